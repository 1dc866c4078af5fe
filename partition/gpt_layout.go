package partition

import (
	"encoding/binary"
	"hash/crc32"
)

// GPT layout (UEFI specification 2.10, section 5.3).
const (
	gptSignature      = "EFI PART"
	gptHeaderMinSize  = 92  // bytes covered by the UEFI 2.x header
	gptEntryMinSize   = 128 // bytes; entries are 128 * 2^n bytes
	gptEntryNameBytes = 72  // UTF-16LE partition name
	gptAttrLegacyBoot = 1 << 2
)

// gptHeader mirrors the UEFI GPT header (EFI_PARTITION_TABLE_HEADER).
// All LBAs are in logical sectors of the disk.
type gptHeader struct {
	Signature      [8]byte
	Revision       uint32
	HeaderSize     uint32 // bytes covered by HeaderCRC
	HeaderCRC      uint32 // CRC32 of HeaderSize bytes with this field zero
	MyLBA          uint64 // sector holding this header
	AlternateLBA   uint64 // sector holding the other header
	FirstUsableLBA uint64
	LastUsableLBA  uint64
	DiskGUID       guid
	EntriesLBA     uint64 // first sector of the entry array
	NumEntries     uint32
	EntrySize      uint32 // bytes per entry
	EntriesCRC     uint32 // CRC32 of NumEntries*EntrySize bytes
}

// decodeGPTHeader decodes a header from b (at least gptHeaderMinSize bytes)
// and computes the CRC of its first HeaderSize bytes, or 0 with ok false when
// HeaderSize does not fit in b.
func decodeGPTHeader(b []byte) (h gptHeader, crc uint32, ok bool) {
	if len(b) < gptHeaderMinSize {
		return h, 0, false
	}
	le := binary.LittleEndian
	copy(h.Signature[:], b[0:8])
	h.Revision = le.Uint32(b[8:])
	h.HeaderSize = le.Uint32(b[12:])
	h.HeaderCRC = le.Uint32(b[16:])
	h.MyLBA = le.Uint64(b[24:])
	h.AlternateLBA = le.Uint64(b[32:])
	h.FirstUsableLBA = le.Uint64(b[40:])
	h.LastUsableLBA = le.Uint64(b[48:])
	copy(h.DiskGUID[:], b[56:72])
	h.EntriesLBA = le.Uint64(b[72:])
	h.NumEntries = le.Uint32(b[80:])
	h.EntrySize = le.Uint32(b[84:])
	h.EntriesCRC = le.Uint32(b[88:])
	if h.HeaderSize < gptHeaderMinSize || uint64(h.HeaderSize) > uint64(len(b)) {
		return h, 0, false
	}
	c := crc32.NewIEEE()
	c.Write(b[:16])
	c.Write([]byte{0, 0, 0, 0})
	c.Write(b[20:h.HeaderSize])
	return h, c.Sum32(), true
}

// gptEntry mirrors a GPT partition entry (EFI_PARTITION_ENTRY).
type gptEntry struct {
	Type       guid
	Unique     guid
	FirstLBA   uint64 // first sector
	LastLBA    uint64 // last sector, inclusive
	Attributes uint64
	Name       [gptEntryNameBytes]byte // UTF-16LE, NUL padded
}

// decodeGPTEntry decodes one entry from b (at least gptEntryMinSize bytes).
func decodeGPTEntry(b []byte) gptEntry {
	var e gptEntry
	le := binary.LittleEndian
	copy(e.Type[:], b[0:16])
	copy(e.Unique[:], b[16:32])
	e.FirstLBA = le.Uint64(b[32:])
	e.LastLBA = le.Uint64(b[40:])
	e.Attributes = le.Uint64(b[48:])
	copy(e.Name[:], b[56:128])
	return e
}
