package fat

import "encoding/binary"

const dirEntrySize = 32

// DOS attribute bits (DIR_Attr).
const (
	attrReadOnly  = 0x01
	attrHidden    = 0x02
	attrSystem    = 0x04
	attrVolumeID  = 0x08
	attrDirectory = 0x10
	attrArchive   = 0x20
	attrLongName  = 0x0F // all of RO|HIDDEN|SYSTEM|VOLUME_ID: an LFN entry
	attrLongMask  = 0x3F
)

// First-byte markers of DIR_Name.
const (
	entryEnd     = 0x00 // this and all following entries are free
	entryDeleted = 0xE5 // free entry
	entryKanji   = 0x05 // stands for a real 0xE5 first byte
)

// NT case flags in DIR_NTRes (byte 12), as set by Windows NT and mtools.
const (
	caseLowerBase = 0x08
	caseLowerExt  = 0x10
)

// shortEntry mirrors a 32-byte 8.3 directory entry (FAT specification
// 1.03, section 6). Times are DOS local times: date = (year-1980)<<9 |
// month<<5 | day, time = hour<<11 | minute<<5 | seconds/2.
type shortEntry struct {
	Name      [11]byte // DIR_Name: 8 + 3 characters, space padded, code page 437
	Attr      uint8    // DIR_Attr
	NTRes     uint8    // DIR_NTRes: caseLowerBase, caseLowerExt
	CrtTimeCs uint8    // DIR_CrtTimeTenth: 10 ms units, 0..199
	CrtTime   uint16   // DIR_CrtTime
	CrtDate   uint16   // DIR_CrtDate; 0 = not recorded
	AccDate   uint16   // DIR_LstAccDate
	ClusterHi uint16   // DIR_FstClusHI: FAT32 only
	WrtTime   uint16   // DIR_WrtTime
	WrtDate   uint16   // DIR_WrtDate
	ClusterLo uint16   // DIR_FstClusLO
	FileSize  uint32   // DIR_FileSize: bytes; 0 for directories
}

// parseShortEntry decodes a 32-byte entry; p must hold at least 32 bytes.
func parseShortEntry(p []byte) shortEntry {
	le := binary.LittleEndian
	e := shortEntry{
		Attr:      p[11],
		NTRes:     p[12],
		CrtTimeCs: p[13],
		CrtTime:   le.Uint16(p[14:]),
		CrtDate:   le.Uint16(p[16:]),
		AccDate:   le.Uint16(p[18:]),
		ClusterHi: le.Uint16(p[20:]),
		WrtTime:   le.Uint16(p[22:]),
		WrtDate:   le.Uint16(p[24:]),
		ClusterLo: le.Uint16(p[26:]),
		FileSize:  le.Uint32(p[28:]),
	}
	copy(e.Name[:], p[:11])
	return e
}

// cluster is the first cluster; the high half counts on FAT32 only, as in
// Linux.
func (e *shortEntry) cluster(fat32 bool) uint32 {
	c := uint32(e.ClusterLo)
	if fat32 {
		c |= uint32(e.ClusterHi) << 16
	}
	return c
}

func (e *shortEntry) isDir() bool { return e.Attr&attrDirectory != 0 }

// isDot reports the "." and ".." entries of a subdirectory.
func (e *shortEntry) isDot() bool {
	return string(e.Name[:]) == ".          " || string(e.Name[:]) == "..         "
}

// isLive reports whether the entry names a file or directory: not free,
// not an LFN part, not the volume label.
func (e *shortEntry) isLive() bool {
	if e.Name[0] == entryEnd || e.Name[0] == entryDeleted {
		return false
	}
	return e.Attr&attrLongMask != attrLongName && e.Attr&attrVolumeID == 0
}

// checksum is the LFN checksum of the 8.3 name (FAT specification 1.03,
// section 7.2), computed over the raw on-disk bytes.
func (e *shortEntry) checksum() uint8 {
	var sum uint8
	for _, c := range e.Name {
		sum = (sum&1)<<7 + sum>>1 + c
	}
	return sum
}

// longEntry mirrors a 32-byte VFAT long-name entry (FAT specification 1.03,
// section 7). Each holds 13 UCS-2 code units of the name.
type longEntry struct {
	Ord      uint8      // LDIR_Ord: sequence 1..20, 0x40 on the last (first on disk)
	Chars    [13]uint16 // LDIR_Name1 (5), LDIR_Name2 (6), LDIR_Name3 (2)
	Checksum uint8      // LDIR_Chksum of the 8.3 entry this belongs to
}

const (
	lfnLast    = 0x40
	lfnMaxSeq  = 20 // 20 * 13 = 260 code units, enough for 255 characters
	lfnPerSlot = 13
)

// parseLongEntry decodes a 32-byte LFN entry; p must hold at least 32 bytes.
func parseLongEntry(p []byte) longEntry {
	le := binary.LittleEndian
	e := longEntry{Ord: p[0], Checksum: p[13]}
	for i := 0; i < 5; i++ {
		e.Chars[i] = le.Uint16(p[1+2*i:])
	}
	for i := 0; i < 6; i++ {
		e.Chars[5+i] = le.Uint16(p[14+2*i:])
	}
	for i := 0; i < 2; i++ {
		e.Chars[11+i] = le.Uint16(p[28+2*i:])
	}
	return e
}
