package vhd

import (
	"encoding/binary"
)

// footerLen is the size of the hard disk footer in bytes.
const footerLen = 512

// Disk types of the footer.
const (
	typeFixed        = 2
	typeDynamic      = 3
	typeDifferencing = 4
)

// maxGeometry is the largest CHS geometry, 65535 cylinders x 16 heads x
// 255 sectors; a disk of that geometry gives its size in the footer.
const maxGeometry = 65535 * 16 * 255

// Footer mirrors the "Hard Disk Footer" of the VHD specification: 512
// bytes, big-endian, at the end of every VHD file and copied at offset 0
// of dynamic and differencing disks. Sizes and offsets are in bytes.
type Footer struct {
	Cookie         [8]byte // "conectix"
	Features       uint32
	Version        uint32 // 0x00010000
	DataOffset     uint64 // dynamic disk header; all ones for fixed disks
	Timestamp      uint32 // seconds since 2000-01-01 UTC
	CreatorApp     [4]byte
	CreatorVersion uint32
	CreatorOS      uint32
	OriginalSize   uint64
	CurrentSize    uint64
	Cylinders      uint16
	Heads          uint8
	SectorsPerCyl  uint8 // sectors per track
	DiskType       uint32
	Checksum       uint32
	UniqueID       [16]byte
	SavedState     uint8
}

// parseFooter decodes the 512 bytes of b.
func parseFooter(b []byte) Footer {
	be := binary.BigEndian
	var f Footer
	copy(f.Cookie[:], b[0:8])
	f.Features = be.Uint32(b[8:])
	f.Version = be.Uint32(b[12:])
	f.DataOffset = be.Uint64(b[16:])
	f.Timestamp = be.Uint32(b[24:])
	copy(f.CreatorApp[:], b[28:32])
	f.CreatorVersion = be.Uint32(b[32:])
	f.CreatorOS = be.Uint32(b[36:])
	f.OriginalSize = be.Uint64(b[40:])
	f.CurrentSize = be.Uint64(b[48:])
	f.Cylinders = be.Uint16(b[56:])
	f.Heads = b[58]
	f.SectorsPerCyl = b[59]
	f.DiskType = be.Uint32(b[60:])
	f.Checksum = be.Uint32(b[64:])
	copy(f.UniqueID[:], b[68:84])
	f.SavedState = b[84]
	return f
}

// checksum is the ones' complement of the byte sum of b, skipping the
// four checksum bytes at skip.
func checksum(b []byte, skip int) uint32 {
	var sum uint32
	for i, c := range b {
		if i < skip || i >= skip+4 {
			sum += uint32(c)
		}
	}
	return ^sum
}

// virtualSize is the disk size QEMU gives the image (see the package
// documentation), rounded down to whole sectors.
func (f *Footer) virtualSize() uint64 {
	chs := uint64(f.Cylinders) * uint64(f.Heads) * uint64(f.SectorsPerCyl)
	switch string(f.CreatorApp[:]) {
	case "win ", "qem2", "d2v ", "CTXS", "tap\x00":
		return f.CurrentSize &^ 511
	}
	if chs == maxGeometry || chs == 0 {
		return f.CurrentSize &^ 511
	}
	return chs * 512
}
