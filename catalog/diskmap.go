package catalog

import (
	"context"
	"errors"
	"fmt"
)

// Extent is one piece of a disk's map: [Off, Off+Len) holds the plaintext of
// chunk ID, or zeros when ID is ZeroID (a hole). A map's extents are
// contiguous, in disk order, and cover [0, Size) exactly.
type Extent struct {
	Off, Len int64
	ID       ChunkID
}

// End is the offset just past e.
func (e Extent) End() int64 { return e.Off + e.Len }

// DiskMap is the map of one disk of one point: which chunk holds each byte.
// It is safe for concurrent use; map blocks are read on demand through the
// repository's cache.
type DiskMap struct {
	repo     *Repo
	name     string
	size     int64
	maxChunk int
	v1       *mapV1 // a format-1 map (fixed-size chunks), or
	v2       *mapV2 // a format-2 map (content-defined chunks)
}

// OpenDiskMap opens the map of disk d of point p, reading its root.
func (r *Repo) OpenDiskMap(ctx context.Context, p *Manifest, d *DiskRecord) (*DiskMap, error) {
	m := &DiskMap{repo: r, name: d.Name, size: d.Size, maxChunk: p.MaxChunk()}
	var err error
	if p.Chunking != nil {
		m.v2, err = r.openV2(ctx, d)
	} else {
		m.v1, err = r.openV1(ctx, p.ChunkSize, d)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Size returns the disk size in bytes.
func (m *DiskMap) Size() int64 { return m.size }

// MaxChunk is the largest plaintext one chunk of the map can have.
func (m *DiskMap) MaxChunk() int { return m.maxChunk }

// Lookup returns the extent holding off (0 <= off < Size).
func (m *DiskMap) Lookup(ctx context.Context, off int64) (Extent, error) {
	if off < 0 || off >= m.size {
		return Extent{}, fmt.Errorf("disk %s: offset %d outside [0,%d)", m.name, off, m.size)
	}
	if m.v1 != nil {
		return m.v1.lookup(ctx, m.repo, off)
	}
	if m.v2.root == nil {
		return Extent{Len: m.size}, nil
	}
	return m.lookupV2(ctx, off)
}

// errStop ends a walk early without an error.
var errStop = errors.New("stop")

// Extents calls fn for every extent overlapping [from, to), in order, whole
// (not clipped to the range).
func (m *DiskMap) Extents(ctx context.Context, from, to int64, fn func(Extent) error) error {
	from, to = max(from, 0), min(to, m.size)
	if from >= to {
		return nil
	}
	switch {
	case m.v1 != nil:
		return m.v1.extents(ctx, m.repo, from, to, fn)
	case m.v2.root == nil:
		return fn(Extent{Len: m.size})
	}
	return m.extentsV2(ctx, m.v2.root, 0, from, to, fn)
}

// MapBlocks calls fn with the ID of every stored block of the map.
func (m *DiskMap) MapBlocks(ctx context.Context, fn func(ChunkID) error) error {
	return m.walk(ctx, walkOptions{}, func(_ string, id ChunkID, err error) (bool, error) {
		if err != nil {
			return false, err
		}
		return true, fn(id)
	}, nil)
}

// walkOptions tune walk for gc and verify.
type walkOptions struct {
	noCache bool             // read blocks past the cache (a walk of everything)
	seen    map[ChunkID]bool // blocks already walked: neither reported nor read again
}

// walk calls block for every stored map block (err says why it could not be
// read; returning false skips what it holds) and data for every extent
// holding data, so that a damaged map is walked as far as it can be.
func (m *DiskMap) walk(ctx context.Context, o walkOptions, block func(kind string, id ChunkID, err error) (bool, error), data func(Extent) error) error {
	if m.v1 != nil {
		return m.v1.walk(ctx, m.repo, o, block, data)
	}
	return m.walkV2(ctx, o, block, data)
}
