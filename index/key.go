package index

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/zeebo/blake3"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
)

const keyDomain = "vmarchive index content key v2\x00"

// keyer computes content keys (doc.go) for the files of one volume that
// lies at a known offset of a disk. Not safe for concurrent use.
type keyer struct {
	ctx     context.Context
	m       *catalog.DiskMap
	volOff  int64
	volSize int64
	h       *blake3.Hasher
	buf     []byte
}

func newKeyer(ctx context.Context, m *catalog.DiskMap, volOff, volSize int64) *keyer {
	return &keyer{ctx: ctx, m: m, volOff: volOff, volSize: volSize, h: blake3.New()}
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
	last := int64(-1) // end of the last map extent hashed
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
		err := k.m.Extents(k.ctx, max(start, last), end, func(x catalog.Extent) error {
			if x.Off < last {
				return nil // hashed for an earlier file extent
			}
			b = binary.AppendUvarint(b, uint64(x.Off))
			b = binary.AppendUvarint(b, uint64(x.Len))
			b = append(b, x.ID[:]...)
			last = x.End()
			return nil
		})
		if err != nil {
			return key, false, fmt.Errorf("chunk map: %w", err)
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

// Keyer computes content keys as Build records them, for the files of one
// volume at offset volOff of a disk whose map is m: a check of a stored
// index (package service/testrestore) computes them again. Not safe for
// concurrent use.
type Keyer struct{ k *keyer }

// NewKeyer returns a Keyer for a volume of volSize bytes at volOff.
func NewKeyer(ctx context.Context, m *catalog.DiskMap, volOff, volSize int64) *Keyer {
	return &Keyer{newKeyer(ctx, m, volOff, volSize)}
}

// Key returns the content key of a regular file of size bytes with
// extents es (guestfs.Extenter); ok is false when it has none.
func (k *Keyer) Key(size int64, es []guestfs.Extent) (key ContentKey, ok bool, err error) {
	return k.k.key(size, es)
}
