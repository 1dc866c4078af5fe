package format

import (
	"encoding/binary"
	"fmt"
)

// A disk's chunk map is a two-level tree of content-addressed blocks: the
// root block lists leaf block IDs, each leaf lists the IDs of LeafFanout
// consecutive chunks. Points that share unchanged regions share leaves, and
// two points are compared leaf by leaf without reading equal ones. A leaf
// (or chunk) of zeros is ZeroID and is not stored.
const LeafFanout = 1024

// Block kinds, the first byte of a map block.
const (
	BlockLeaf = 1
	BlockRoot = 2
)

// MaxDiskSize bounds disk sizes (64 TiB, VMDK's largest) so hostile input
// cannot make us allocate absurd maps.
const MaxDiskSize = 64 << 40

func EncodeBlock(kind byte, ids []ChunkID) []byte {
	b := make([]byte, 0, 5+32*len(ids))
	b = append(b, kind)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(ids)))
	for i := range ids {
		b = append(b, ids[i][:]...)
	}
	return b
}

func DecodeBlock(b []byte, kind byte, want int) ([]ChunkID, error) {
	if len(b) < 5 || b[0] != kind {
		return nil, fmt.Errorf("map block: bad header: %w", ErrCorrupt)
	}
	n := int(binary.LittleEndian.Uint32(b[1:5]))
	if n != want || len(b) != 5+32*n {
		return nil, fmt.Errorf("map block: %d entries in %d bytes, want %d: %w", n, len(b), want, ErrCorrupt)
	}
	ids := make([]ChunkID, n)
	for i := range ids {
		copy(ids[i][:], b[5+32*i:])
	}
	return ids, nil
}

// ChunkCount is the number of chunks of a disk of size bytes.
func ChunkCount(size int64, chunkSize int) int64 {
	return (size + int64(chunkSize) - 1) / int64(chunkSize)
}

func LeafCount(chunks int64) int64 { return (chunks + LeafFanout - 1) / LeafFanout }

// LeafLen is the number of entries of leaf i.
func LeafLen(chunks, i int64) int {
	if rest := chunks - i*LeafFanout; rest < LeafFanout {
		return int(rest)
	}
	return LeafFanout
}
