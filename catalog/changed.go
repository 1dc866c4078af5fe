package catalog

import (
	"context"
	"fmt"

	"github.com/vmarchive/vmarchive/catalog/format"
)

// ChangedExtents calls fn with the byte ranges, ascending and merged, where
// a and b may differ: extents whose (Off, Len, ID) differ, plus what only
// the larger disk holds when it holds data (a disk grown by zeros changed
// its size, not its bytes). Map blocks equal in both (same id, offset and
// length) are skipped without reading them, so the cost grows with the
// changes, not with the disk. Maps of either format may be compared.
func ChangedExtents(ctx context.Context, a, b *DiskMap, fn func(off, n int64) error) error {
	out := &rangeMerger{fn: fn}
	fa, err := a.frontier(ctx)
	if err != nil {
		return err
	}
	fb, err := b.frontier(ctx)
	if err != nil {
		return err
	}
	for pos, end := int64(0), max(a.size, b.size); pos < end; {
		ia, ib := fa.peek(pos), fb.peek(pos)
		switch {
		case ia.level > 0 && ib.level > 0 && ia == ib:
			fa.pop()
			fb.pop()
			pos = ia.end()
		case ia.level > 0 || ib.level > 0:
			if ia.level >= ib.level {
				if err := fa.expand(ctx); err != nil {
					return err
				}
			}
			if ib.level >= ia.level {
				if err := fb.expand(ctx); err != nil {
					return err
				}
			}
		default:
			e := min(ia.end(), ib.end(), end)
			if ia != ib && !(ia.id.IsZero() && ib.id.IsZero()) {
				if err := out.add(pos, e); err != nil {
					return err
				}
			}
			pos = e
		}
	}
	return out.flush()
}

// mapItem is a piece of a map in a comparison: an extent (level 0) or a map
// block of that level, covering [off, off+n).
type mapItem struct {
	off, n int64
	id     ChunkID
	level  int
}

func (it mapItem) end() int64 { return it.off + it.n }

// frontier is what of one map is still to compare: items in disk order,
// the next last.
type frontier struct {
	m     *DiskMap
	stack []mapItem
}

func (m *DiskMap) frontier(ctx context.Context) (*frontier, error) {
	f := &frontier{m: m}
	switch {
	case m.v1 != nil:
		span := int64(m.v1.chunkSize) * format.LeafFanout
		for li := len(m.v1.leaves) - 1; li >= 0; li-- {
			off := int64(li) * span
			f.stack = append(f.stack, mapItem{off: off, n: min(span, m.size-off), id: m.v1.leaves[li], level: 1})
		}
	case m.v2.root != nil:
		f.stack = append(f.stack, mapItem{n: m.size, id: m.v2.rid, level: m.v2.root.level})
	case m.size > 0:
		f.stack = append(f.stack, mapItem{n: m.size})
	}
	return f, nil
}

// peek returns the item holding pos: past the map's end, a hole without end.
func (f *frontier) peek(pos int64) mapItem {
	for len(f.stack) > 0 && f.stack[len(f.stack)-1].end() <= pos {
		f.stack = f.stack[:len(f.stack)-1]
	}
	if len(f.stack) == 0 {
		return mapItem{off: f.m.size, n: 1<<62 - f.m.size}
	}
	return f.stack[len(f.stack)-1]
}

func (f *frontier) pop() { f.stack = f.stack[:len(f.stack)-1] }

// expand replaces the next item, a block, by what it holds.
func (f *frontier) expand(ctx context.Context) error {
	it := f.stack[len(f.stack)-1]
	f.pop()
	var kids []mapItem
	if f.m.v1 != nil {
		ids, err := f.m.v1.leaf(ctx, f.m.repo, it.off/(int64(f.m.v1.chunkSize)*format.LeafFanout))
		if err != nil {
			return fmt.Errorf("disk %s: map leaf at %d: %w", f.m.name, it.off, err)
		}
		for j, id := range ids {
			e := f.m.v1.extent(it.off/int64(f.m.v1.chunkSize)+int64(j), id)
			kids = append(kids, mapItem{off: e.Off, n: e.Len, id: id})
		}
	} else {
		n, err := f.m.repo.mapNode(ctx, it.id, false)
		if err == nil && (n.level != it.level || n.offs[len(n.ids)] != it.n) {
			err = fmt.Errorf("map block %s: level %d covering %d bytes, its parent says level %d covering %d: %w", it.id, n.level, n.offs[len(n.ids)], it.level, it.n, ErrCorrupt)
		}
		if err != nil {
			return fmt.Errorf("disk %s: %w", f.m.name, err)
		}
		for i, id := range n.ids {
			kid := mapItem{off: it.off + n.offs[i], n: n.offs[i+1] - n.offs[i], id: id, level: n.level - 1}
			if kid.level == 0 {
				if _, err := f.m.leafExtent(n, it.off, i); err != nil {
					return err
				}
			}
			kids = append(kids, kid)
		}
	}
	for i := len(kids) - 1; i >= 0; i-- {
		f.stack = append(f.stack, kids[i])
	}
	return nil
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
