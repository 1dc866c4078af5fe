package ntfs

import "encoding/binary"

// MFT record flags (MFT_RECORD_FLAGS in layout.h).
const (
	recInUse     = 0x0001
	recDirectory = 0x0002
)

// recordHeader is the fixed part of a FILE record (MFT_RECORD in layout.h).
// Offsets and sizes are in bytes within the record.
type recordHeader struct {
	Seq         uint16 // sequence_number, bumped when the record is reused
	LinkCount   uint16 // link_count: number of $FILE_NAME attributes, DOS names included
	AttrsOffset uint16 // attrs_offset: first attribute
	Flags       uint16 // MFT_RECORD_FLAGS
	BytesInUse  uint32 // bytes_in_use
	BaseRef     uint64 // base_mft_record: MFT reference of the base record, 0 in a base record
	Number      uint32 // mft_record_number (NTFS 3.1+, when usa_ofs >= 0x30)
	HasNumber   bool
}

// decodeRecordHeader decodes a FILE record whose fixups were applied.
func decodeRecordHeader(b []byte) (recordHeader, error) {
	var h recordHeader
	if len(b) < 0x30 {
		return h, corruptf("FILE record of %d bytes", len(b))
	}
	h.Seq = binary.LittleEndian.Uint16(b[0x10:])
	h.LinkCount = binary.LittleEndian.Uint16(b[0x12:])
	h.AttrsOffset = binary.LittleEndian.Uint16(b[0x14:])
	h.Flags = binary.LittleEndian.Uint16(b[0x16:])
	h.BytesInUse = binary.LittleEndian.Uint32(b[0x18:])
	h.BaseRef = binary.LittleEndian.Uint64(b[0x20:])
	if binary.LittleEndian.Uint16(b[4:]) >= 0x30 {
		h.Number = binary.LittleEndian.Uint32(b[0x2c:])
		h.HasNumber = true
	}
	if int(h.BytesInUse) > len(b) || h.AttrsOffset&7 != 0 || int(h.AttrsOffset)+8 > int(h.BytesInUse) {
		return h, corruptf("FILE record: attrs_offset %d, bytes_in_use %d, record size %d", h.AttrsOffset, h.BytesInUse, len(b))
	}
	return h, nil
}

// mref splits an MFT reference into record number and sequence number.
func mref(v uint64) (uint64, uint16) { return v & 0xffffffffffff, uint16(v >> 48) }
