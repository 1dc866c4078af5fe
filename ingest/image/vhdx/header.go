package vhdx

import (
	"encoding/binary"
	"hash/crc32"
)

// Fixed offsets of the header section (MS-VHDX 2.1), in bytes.
const (
	headerOff1  = 64 << 10
	headerOff2  = 128 << 10
	headerLen   = 4 << 10
	regionOff1  = 192 << 10
	regionOff2  = 256 << 10
	regionLen   = 64 << 10
	sectionEnd  = 1 << 20 // everything else starts at or after 1 MiB
	maxRegions  = 2047
	regionEntry = 32
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32c is the CRC-32C of b with its four checksum bytes at 4 taken as
// zero, as every VHDX checksum is computed.
func crc32c(b []byte) uint32 {
	c := crc32.Update(0, castagnoli, b[:4])
	c = crc32.Update(c, castagnoli, []byte{0, 0, 0, 0})
	return crc32.Update(c, castagnoli, b[8:])
}

// Header mirrors the VHDX header (MS-VHDX 2.2.2): 4 KiB, little-endian,
// at 64 KiB and 128 KiB. LogOffset and LogLength are bytes.
type Header struct {
	Signature      uint32 // "head"
	Checksum       uint32 // CRC-32C of the 4 KiB
	SequenceNumber uint64
	FileWriteGUID  GUID
	DataWriteGUID  GUID // a differencing child records its parent's
	LogGUID        GUID // non-zero: the log may hold entries to replay
	LogVersion     uint16
	Version        uint16 // 1
	LogLength      uint32
	LogOffset      uint64
}

const sigHeader = 0x64616568 // "head"

func parseHeader(b []byte) Header {
	le := binary.LittleEndian
	h := Header{
		Signature:      le.Uint32(b[0:]),
		Checksum:       le.Uint32(b[4:]),
		SequenceNumber: le.Uint64(b[8:]),
		LogVersion:     le.Uint16(b[64:]),
		Version:        le.Uint16(b[66:]),
		LogLength:      le.Uint32(b[68:]),
		LogOffset:      le.Uint64(b[72:]),
	}
	copy(h.FileWriteGUID[:], b[16:32])
	copy(h.DataWriteGUID[:], b[32:48])
	copy(h.LogGUID[:], b[48:64])
	return h
}

// RegionEntry mirrors a region table entry (MS-VHDX 2.2.3.2): where a
// region lies in the file, in bytes.
type RegionEntry struct {
	GUID       GUID
	FileOffset uint64
	Length     uint32
	Required   bool
}

const sigRegion = 0x69676572 // "regi"

// parseRegions decodes a 64 KiB region table: its signature, entry count
// and entries (at most maxRegions, as the table holds).
func parseRegions(b []byte) (sig, count uint32, entries []RegionEntry) {
	le := binary.LittleEndian
	sig, count = le.Uint32(b[0:]), le.Uint32(b[8:])
	for i := range min(count, maxRegions) {
		e := b[16+regionEntry*i:]
		var r RegionEntry
		copy(r.GUID[:], e[0:16])
		r.FileOffset = le.Uint64(e[16:])
		r.Length = le.Uint32(e[24:])
		r.Required = le.Uint32(e[28:])&1 != 0
		entries = append(entries, r)
	}
	return sig, count, entries
}
