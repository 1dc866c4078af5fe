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
	v1       *mapV1 // a format-1 map (fixed-size chunks)
}

// OpenDiskMap opens the map of disk d of point p, reading its root.
func (r *Repo) OpenDiskMap(ctx context.Context, p *Manifest, d *DiskRecord) (*DiskMap, error) {
	m := &DiskMap{repo: r, name: d.Name, size: d.Size, maxChunk: p.ChunkSize}
	v1, err := r.openV1(ctx, p.ChunkSize, d)
	if err != nil {
		return nil, err
	}
	m.v1 = v1
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
	return m.v1.lookup(ctx, m.repo, off)
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
	return m.v1.extents(ctx, m.repo, from, to, fn)
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
	return m.v1.walk(ctx, m.repo, o, block, data)
}

// ChangedExtents calls fn with the byte ranges, ascending and merged, where
// a and b may differ: extents whose (Off, Len, ID) differ, plus what only
// the larger disk holds when it holds data (a disk grown by zeros changed
// its size, not its bytes). Map subtrees equal in both are skipped without
// reading them, so the cost grows with the changes.
func ChangedExtents(ctx context.Context, a, b *DiskMap, fn func(off, n int64) error) error {
	out := &rangeMerger{fn: fn}
	var err error
	if a.v1 != nil && b.v1 != nil && a.v1.chunkSize == b.v1.chunkSize {
		err = changedV1(ctx, a, b, out)
	} else {
		err = changedWalk(ctx, a, b, 0, max(a.size, b.size), out)
	}
	if err != nil {
		return err
	}
	return out.flush()
}

// rangeMerger merges adjacent ranges before passing them on.
type rangeMerger struct {
	fn       func(off, n int64) error
	off, end int64
}

func (r *rangeMerger) add(off, end int64) error {
	if off >= end {
		return nil
	}
	if r.end > r.off && r.end == off {
		r.end = end
		return nil
	}
	if err := r.flush(); err != nil {
		return err
	}
	r.off, r.end = off, end
	return nil
}

func (r *rangeMerger) flush() error {
	if r.end <= r.off {
		return nil
	}
	off, n := r.off, r.end-r.off
	r.off, r.end = 0, 0
	return r.fn(off, n)
}

// changedWalk compares the extents of a and b over [from, to) one by one:
// the general case (maps of different formats or chunk sizes).
func changedWalk(ctx context.Context, a, b *DiskMap, from, to int64, out *rangeMerger) error {
	ca, cb := newCursor(ctx, a), newCursor(ctx, b)
	for pos := from; pos < to; {
		ea, err := ca.at(pos)
		if err != nil {
			return fmt.Errorf("disk %s: %w", a.name, err)
		}
		eb, err := cb.at(pos)
		if err != nil {
			return fmt.Errorf("disk %s: %w", b.name, err)
		}
		end := min(ea.End(), eb.End(), to)
		if ea != eb && !(ea.ID.IsZero() && eb.ID.IsZero()) {
			if err := out.add(pos, end); err != nil {
				return err
			}
		}
		pos = end
	}
	return nil
}

// cursor reads a map's extents in increasing order, a batch at a time; past
// the end of the disk it gives one hole reaching to infinity.
type cursor struct {
	ctx  context.Context
	m    *DiskMap
	buf  []Extent
	next int64 // where buf ends
}

func newCursor(ctx context.Context, m *DiskMap) *cursor { return &cursor{ctx: ctx, m: m} }

// cursorBatch is how many extents a cursor reads at once.
const cursorBatch = 256

// at returns the extent holding pos, which never decreases between calls.
func (c *cursor) at(pos int64) (Extent, error) {
	if pos >= c.m.size {
		return Extent{Off: c.m.size, Len: 1<<62 - c.m.size}, nil
	}
	for {
		for len(c.buf) > 0 && c.buf[0].End() <= pos {
			c.buf = c.buf[1:]
		}
		if len(c.buf) > 0 {
			return c.buf[0], nil
		}
		from := max(pos, c.next)
		c.buf = c.buf[:0]
		err := c.m.Extents(c.ctx, from, c.m.size, func(e Extent) error {
			c.buf = append(c.buf, e)
			if len(c.buf) == cursorBatch {
				return errStop
			}
			return nil
		})
		if err != nil && err != errStop {
			return Extent{}, err
		}
		if len(c.buf) == 0 {
			return Extent{}, fmt.Errorf("map holds no extent at offset %d: %w", pos, ErrCorrupt)
		}
		c.next = c.buf[len(c.buf)-1].End()
	}
}
