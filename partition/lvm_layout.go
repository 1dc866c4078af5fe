package partition

import (
	"encoding/binary"
	"hash/crc32"
)

// LVM2 on-disk layout (lvm2 lib/format_text/layout.h, lib/label/label.h).
const (
	lvmSectorSize   = 512        // LVM's SECTOR_SIZE: label, extent and pe_start units
	lvmLabelScan    = 4          // the label is in one of the first 4 sectors
	lvmLabelID      = "LABELONE" // label_header.id
	lvmLabelType    = "LVM2 001" // label_header.type
	lvmLabelHdrSize = 32         // sizeof(struct label_header)
	lvmIDLen        = 32         // ID_LEN: UUID characters without dashes
	lvmMDAHeaderLen = 512        // MDA_HEADER_SIZE
	lvmMDAMagic     = " LVM2 x[5A%r0N*>"
	lvmMDAVersion   = 1
	lvmInitialCRC   = 0xf597a6cf // INITIAL_CRC
	lvmRawLocnIgn   = 1          // RAW_LOCN_IGNORED: this mda is not used
)

// lvmCRC is LVM's calc_crc: CRC-32 (IEEE, reflected) without the final
// inversion, seeded with INITIAL_CRC instead of all ones.
func lvmCRC(b []byte) uint32 {
	return ^crc32.Update(^uint32(lvmInitialCRC), crc32.IEEETable, b)
}

// lvmCRCUpdate continues an LVM CRC over more bytes.
func lvmCRCUpdate(crc uint32, b []byte) uint32 {
	return ^crc32.Update(^crc, crc32.IEEETable, b)
}

// labelHeader mirrors struct label_header, at the start of a label sector.
type labelHeader struct {
	ID       [8]byte // "LABELONE"
	Sector   uint64  // sector_xl: the sector holding this label
	CRC      uint32  // crc_xl: lvmCRC of the sector from offset 20 to its end
	Offset   uint32  // offset_xl: byte offset of the pv_header in the sector
	Type     [8]byte // "LVM2 001"
	computed uint32  // CRC computed over the sector
}

func decodeLabelHeader(sector []byte) labelHeader {
	var h labelHeader
	le := binary.LittleEndian
	copy(h.ID[:], sector[0:8])
	h.Sector = le.Uint64(sector[8:])
	h.CRC = le.Uint32(sector[16:])
	h.Offset = le.Uint32(sector[20:])
	copy(h.Type[:], sector[24:32])
	h.computed = lvmCRC(sector[20:lvmSectorSize])
	return h
}

// diskLocn mirrors struct disk_locn: an area of the PV, in bytes from the
// start of the PV.
type diskLocn struct {
	Offset uint64
	Size   uint64 // 0 for a data area means "up to the end of the device"
}

// pvHeader mirrors struct pv_header: the PV UUID, the device size, and two
// zero-terminated lists of disk_locn (data areas, then metadata areas).
type pvHeader struct {
	UUID       string // 32 characters, no dashes
	DeviceSize uint64 // bytes
	Data       []diskLocn
	Metadata   []diskLocn
}

// decodePVHeader decodes a pv_header from b, which ends at the end of the
// label sector; it reports false if a list runs off the sector.
func decodePVHeader(b []byte) (pvHeader, bool) {
	var h pvHeader
	if len(b) < lvmIDLen+8 {
		return h, false
	}
	h.UUID = string(b[:lvmIDLen])
	h.DeviceSize = binary.LittleEndian.Uint64(b[lvmIDLen:])
	rest := b[lvmIDLen+8:]
	var ok bool
	if h.Data, rest, ok = decodeLocnList(rest); !ok {
		return h, false
	}
	h.Metadata, _, ok = decodeLocnList(rest)
	return h, ok
}

// decodeLocnList reads disk_locn entries up to the all-zero terminator.
func decodeLocnList(b []byte) ([]diskLocn, []byte, bool) {
	var l []diskLocn
	for len(b) >= 16 {
		d := diskLocn{binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])}
		b = b[16:]
		if d.Offset == 0 {
			return l, b, true
		}
		l = append(l, d)
	}
	return l, b, false
}

// rawLocn mirrors struct raw_locn: where in the metadata area the current
// metadata text is.
type rawLocn struct {
	Offset   uint64 // bytes from the start of the metadata area
	Size     uint64 // bytes of text
	Checksum uint32 // lvmCRC of the text
	Flags    uint32 // lvmRawLocnIgn
}

// mdaHeader mirrors struct mda_header, the first 512 bytes of a metadata
// area. Only the first raw_locn (the committed metadata) is decoded.
type mdaHeader struct {
	Checksum uint32 // lvmCRC of bytes 4-511
	Magic    [16]byte
	Version  uint32
	Start    uint64 // absolute byte offset of this area on the PV
	Size     uint64 // bytes in the area, header included
	Locn     rawLocn
	computed uint32
}

func decodeMDAHeader(b []byte) mdaHeader {
	var h mdaHeader
	le := binary.LittleEndian
	h.Checksum = le.Uint32(b[0:])
	copy(h.Magic[:], b[4:20])
	h.Version = le.Uint32(b[20:])
	h.Start = le.Uint64(b[24:])
	h.Size = le.Uint64(b[32:])
	h.Locn = rawLocn{le.Uint64(b[40:]), le.Uint64(b[48:]), le.Uint32(b[56:]), le.Uint32(b[60:])}
	h.computed = lvmCRC(b[4:lvmMDAHeaderLen])
	return h
}
