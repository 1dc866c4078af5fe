package qcow2

import "encoding/binary"

// magic is "QFI\xfb".
const magic = 0x514649fb

// Header lengths: version 2 ends at the snapshot fields, version 3 adds
// the feature words and may be longer (header_length).
const (
	headerV2Len = 72
	headerV3Len = 104
)

// Incompatible feature bits.
const (
	incompatDirty        = 1 << 0
	incompatCorrupt      = 1 << 1
	incompatExternalData = 1 << 2
	incompatCompression  = 1 << 3
	incompatExtendedL2   = 1 << 4
	incompatKnown        = incompatDirty | incompatCorrupt | incompatExternalData | incompatCompression | incompatExtendedL2
)

// Compression types (header byte 104).
const (
	compressionZlib = 0
	compressionZstd = 1
)

// Header mirrors QCowHeader of qcow2.txt: big-endian, at offset 0. Offsets
// are bytes into the image file; Size is the virtual size in bytes.
type Header struct {
	Magic                 uint32
	Version               uint32
	BackingFileOffset     uint64
	BackingFileSize       uint32
	ClusterBits           uint32
	Size                  uint64
	CryptMethod           uint32 // 0 none, 1 AES, 2 LUKS
	L1Size                uint32 // entries
	L1TableOffset         uint64
	RefcountTableOffset   uint64
	RefcountTableClusters uint32
	NbSnapshots           uint32
	SnapshotsOffset       uint64

	// Version 3 only (version 2 reads them as zero, HeaderLength as 72).
	IncompatibleFeatures uint64
	CompatibleFeatures   uint64
	AutoclearFeatures    uint64
	RefcountOrder        uint32
	HeaderLength         uint32 // bytes
	CompressionType      uint8  // present if HeaderLength > 104
}

// parseHeader decodes a header from the first bytes of the file; b holds
// at least headerV3Len bytes (zero-padded if the file is shorter).
func parseHeader(b []byte) Header {
	be := binary.BigEndian
	h := Header{
		Magic:                 be.Uint32(b[0:]),
		Version:               be.Uint32(b[4:]),
		BackingFileOffset:     be.Uint64(b[8:]),
		BackingFileSize:       be.Uint32(b[16:]),
		ClusterBits:           be.Uint32(b[20:]),
		Size:                  be.Uint64(b[24:]),
		CryptMethod:           be.Uint32(b[32:]),
		L1Size:                be.Uint32(b[36:]),
		L1TableOffset:         be.Uint64(b[40:]),
		RefcountTableOffset:   be.Uint64(b[48:]),
		RefcountTableClusters: be.Uint32(b[56:]),
		NbSnapshots:           be.Uint32(b[60:]),
		SnapshotsOffset:       be.Uint64(b[64:]),
		HeaderLength:          headerV2Len,
	}
	if h.Version >= 3 {
		h.IncompatibleFeatures = be.Uint64(b[72:])
		h.CompatibleFeatures = be.Uint64(b[80:])
		h.AutoclearFeatures = be.Uint64(b[88:])
		h.RefcountOrder = be.Uint32(b[96:])
		h.HeaderLength = be.Uint32(b[100:])
		if h.HeaderLength > headerV3Len && len(b) > headerV3Len {
			h.CompressionType = b[104]
		}
	}
	return h
}
