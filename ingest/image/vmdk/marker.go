package vmdk

import "encoding/binary"

// Marker types of stream-optimized extents.
const (
	markerEOS    = 0
	markerGT     = 1
	markerGD     = 2
	markerFooter = 3
)

// Marker mirrors the specification's MetaDataMarker: a 512-byte sector
// (little-endian) that announces metadata in a stream-optimized extent.
type Marker struct {
	NumSectors uint64 // sectors of metadata that follow
	Size       uint32 // 0 for a metadata marker
	Type       uint32
}

func parseMarker(b []byte) Marker {
	le := binary.LittleEndian
	return Marker{NumSectors: le.Uint64(b[0:]), Size: le.Uint32(b[8:]), Type: le.Uint32(b[12:])}
}

// GrainMarker mirrors the specification's GrainMarker: the 12 bytes before
// the deflate data of a compressed grain.
type GrainMarker struct {
	LBA  uint64 // first sector of the grain in the extent
	Size uint32 // bytes of compressed data that follow
}

const grainMarkerSize = 12

func parseGrainMarker(b []byte) GrainMarker {
	le := binary.LittleEndian
	return GrainMarker{LBA: le.Uint64(b[0:]), Size: le.Uint32(b[8:])}
}
