package vmdk

import (
	"encoding/binary"
)

// sparseMagic is "KDMV" read as a little-endian uint32.
const sparseMagic = 0x564d444b

// gdAtEnd in gdOffset says the real header is the footer at the end of a
// stream-optimized file.
const gdAtEnd = 0xffffffffffffffff

// SparseExtentHeader flags.
const (
	flagValidNewline  = 1 << 0
	flagRedundantGT   = 1 << 1
	flagZeroedGTE     = 1 << 2
	flagCompressed    = 1 << 16
	flagMarkers       = 1 << 17
	compressionNone   = 0
	compressionDeflat = 1
)

// SparseExtentHeader mirrors the specification's SparseExtentHeader: the
// first 512-byte sector of a hosted sparse extent, little-endian. Every size
// and offset is in 512-byte sectors.
type SparseExtentHeader struct {
	Magic              uint32 // "KDMV"
	Version            uint32 // 1, 2 or 3
	Flags              uint32
	Capacity           uint64 // virtual size of the extent
	GrainSize          uint64
	DescriptorOffset   uint64 // embedded descriptor, 0 if none
	DescriptorSize     uint64
	NumGTEsPerGT       uint32 // entries per grain table, 512 in practice
	RGDOffset          uint64 // redundant grain directory
	GDOffset           uint64 // grain directory, or gdAtEnd
	OverHead           uint64 // metadata before the first grain
	UncleanShutdown    uint8
	SingleEndLineChar  byte // '\n'
	NonEndLineChar     byte // ' '
	DoubleEndLineChar1 byte // '\r'
	DoubleEndLineChar2 byte // '\n'
	CompressAlgorithm  uint16
}

// sparseHeaderSize is the on-disk size of SparseExtentHeader with padding.
const sparseHeaderSize = 512

// parseSparseHeader decodes a header from its 512 bytes.
func parseSparseHeader(b []byte) SparseExtentHeader {
	le := binary.LittleEndian
	return SparseExtentHeader{
		Magic:              le.Uint32(b[0:]),
		Version:            le.Uint32(b[4:]),
		Flags:              le.Uint32(b[8:]),
		Capacity:           le.Uint64(b[12:]),
		GrainSize:          le.Uint64(b[20:]),
		DescriptorOffset:   le.Uint64(b[28:]),
		DescriptorSize:     le.Uint64(b[36:]),
		NumGTEsPerGT:       le.Uint32(b[44:]),
		RGDOffset:          le.Uint64(b[48:]),
		GDOffset:           le.Uint64(b[56:]),
		OverHead:           le.Uint64(b[64:]),
		UncleanShutdown:    b[72],
		SingleEndLineChar:  b[73],
		NonEndLineChar:     b[74],
		DoubleEndLineChar1: b[75],
		DoubleEndLineChar2: b[76],
		CompressAlgorithm:  le.Uint16(b[77:]),
	}
}
