package index

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/zeebo/blake3"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/format"
	"github.com/vmarchive/vmarchive/guestfs"
)

const keyDomain = "vmarchive index content key v1\x00"

// maxLeaves bounds the map leaves a keyer keeps (32 KiB each).
const maxLeaves = 256

// keyer computes content keys (doc.go) for the files of one volume that
// lies at a known offset of a disk. Not safe for concurrent use.
type keyer struct {
	ctx     context.Context
	m       *catalog.DiskMap
	cs      int64
	volOff  int64
	volSize int64
	leaves  map[int64][]catalog.ChunkID
	h       *blake3.Hasher
	buf     []byte
}

func newKeyer(ctx context.Context, m *catalog.DiskMap, v *guestfs.Volume) *keyer {
	return &keyer{ctx: ctx, m: m, cs: int64(m.ChunkSize()), volOff: v.Offset, volSize: v.Size,
		leaves: map[int64][]catalog.ChunkID{}, h: blake3.New()}
}

// key returns the content key of a file of size bytes with extents es.
// ok is false when the extents do not describe the file's bytes.
func (k *keyer) key(size int64, es []guestfs.Extent) (key ContentKey, ok bool, err error) {
	if size > 0 && len(es) == 0 {
		return key, false, nil // inline data, or nothing known about the bytes
	}
	k.h.Reset()
	b := append(k.buf[:0], keyDomain...)
	b = binary.AppendUvarint(b, uint64(size))
	b = binary.AppendUvarint(b, uint64(k.cs))
	last := int64(-1)
	for _, e := range es {
		if e.Length <= 0 || e.Physical < 0 || e.Logical < 0 || e.Physical > k.volSize-e.Length {
			return key, false, fmt.Errorf("extent logical %d physical %d length %d outside the volume of %d bytes", e.Logical, e.Physical, e.Length, k.volSize)
		}
		start := k.volOff + e.Physical
		end := start + e.Length
		if end > k.m.Size() {
			return key, false, fmt.Errorf("extent at disk offset %d length %d past the disk's end %d", start, e.Length, k.m.Size())
		}
		b = binary.AppendVarint(b, e.Logical)
		b = binary.AppendVarint(b, start)
		b = binary.AppendUvarint(b, uint64(e.Length))
		for c := max(start/k.cs, last+1); c <= (end-1)/k.cs; c++ {
			id, err := k.chunk(c)
			if err != nil {
				return key, false, err
			}
			b = binary.AppendUvarint(b, uint64(c))
			b = append(b, id[:]...)
			last = c
		}
		if len(b) > 64<<10 {
			k.h.Write(b)
			b = b[:0]
		}
	}
	k.h.Write(b)
	k.buf = b[:0]
	var sum [32]byte
	k.h.Sum(sum[:0])
	copy(key[:], sum[:])
	return key, true, nil
}

// chunk returns the id of chunk c, keeping the leaves it loads.
func (k *keyer) chunk(c int64) (catalog.ChunkID, error) {
	li := c / format.LeafFanout
	ids, ok := k.leaves[li]
	if !ok {
		var err error
		if ids, err = k.m.Leaf(k.ctx, li); err != nil {
			return catalog.ZeroID, fmt.Errorf("chunk map leaf %d: %w", li, err)
		}
		if len(k.leaves) >= maxLeaves {
			clear(k.leaves)
		}
		k.leaves[li] = ids
	}
	return ids[c%format.LeafFanout], nil
}
