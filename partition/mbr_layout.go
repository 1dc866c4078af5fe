package partition

import "encoding/binary"

// MBR layout: the classic DOS partition table in sector 0, and the same
// layout in every extended boot record (EBR) of the logical chain.
const (
	mbrSize          = 512  // bytes read for an MBR or EBR
	mbrDiskSigOff    = 440  // uint32 LE disk signature (Windows "disk ID")
	mbrTableOff      = 446  // four 16-byte entries
	mbrEntrySize     = 16   // bytes
	mbrMagicOff      = 510  // 0x55 0xAA
	mbrTypeEmpty     = 0x00 // unused slot
	mbrTypeProtect   = 0xEE // GPT protective entry
	mbrStatusActive  = 0x80 // bootable
	mbrStatusInvalid = 0x7F // mask of status bits that must be zero
)

// mbrEntry mirrors one 16-byte DOS partition table entry. LBAs and counts are
// in logical sectors; for an EBR they are relative (see mbr.go).
type mbrEntry struct {
	Status   uint8  // 0x80 bootable, 0x00 not, anything else invalid
	Type     uint8  // partition type byte
	StartLBA uint32 // first sector
	Sectors  uint32 // length in sectors
}

// mbrSector is a decoded MBR or EBR.
type mbrSector struct {
	DiskSignature uint32 // only meaningful in sector 0
	Entries       [4]mbrEntry
	Magic         bool // 0x55AA present
}

// decodeMBR decodes a 512-byte MBR or EBR. CHS fields are ignored: every tool
// of the last twenty years uses the LBA fields.
func decodeMBR(b []byte) mbrSector {
	var s mbrSector
	if len(b) < mbrSize {
		return s
	}
	s.DiskSignature = binary.LittleEndian.Uint32(b[mbrDiskSigOff:])
	for i := range s.Entries {
		e := b[mbrTableOff+i*mbrEntrySize:][:mbrEntrySize]
		s.Entries[i] = mbrEntry{
			Status:   e[0],
			Type:     e[4],
			StartLBA: binary.LittleEndian.Uint32(e[8:]),
			Sectors:  binary.LittleEndian.Uint32(e[12:]),
		}
	}
	s.Magic = b[mbrMagicOff] == 0x55 && b[mbrMagicOff+1] == 0xAA
	return s
}

// isExtendedType reports whether an MBR type byte marks an extended
// partition (DOS 0x05, Windows LBA 0x0F, Linux 0x85), as Linux does.
func isExtendedType(t uint8) bool { return t == 0x05 || t == 0x0F || t == 0x85 }
