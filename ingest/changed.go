package ingest

import (
	"context"
	"fmt"
	"sort"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest/chunker"
	"github.com/vmarchive/vmarchive/ingest/image"
)

// prevMap is what a changed-areas ingest needs of the previous point's map.
type prevMap interface {
	Lookup(ctx context.Context, off int64) (catalog.Extent, error)
	Extents(ctx context.Context, from, to int64, fn func(catalog.Extent) error) error
}

// changed cuts again only where the changed areas are. Each rebuild
// starts at the previous point's boundary before an area, takes the
// unchanged bytes from the old chunks and the changed ones from the
// source, and stops at the first new boundary past the area that is also
// an old one: from there on the old cut is the new one (see
// chunker.Selector). Everything else is the old extents, unread.
func (p *pipeline) changed(ctx context.Context, d DiskSpec, prev prevMap, areas []image.Extent, e *emitter) error {
	size := d.Disk.Size()
	f := p.newFetcher(ctx, d, prev, areas, size)
	defer f.stop()
	pos := int64(0) // a boundary of both cuts: the new map is built up to here
	for i := 0; i < len(areas); {
		x, err := prev.Lookup(ctx, areas[i].Off)
		if err != nil {
			return fmt.Errorf("previous point at offset %d: %w", areas[i].Off, err)
		}
		if err := p.keep(ctx, prev, pos, x.Off, e); err != nil {
			return err
		}
		r := &rebuild{p: p, d: d, f: f, e: e, areas: areas, next: i, sel: p.cut.NewSelector(x.Off)}
		if pos, err = r.run(ctx, prev, x, size); err != nil {
			return err
		}
		i = r.next
	}
	return p.keep(ctx, prev, pos, size, e)
}

// keep appends the previous point's extents in [from, to), both boundaries
// of its map, as they are.
func (p *pipeline) keep(ctx context.Context, prev prevMap, from, to int64, e *emitter) error {
	if from >= to {
		return nil
	}
	return prev.Extents(ctx, from, to, func(x catalog.Extent) error {
		return e.put(ctx, &piece{ext: x, kept: true})
	})
}

// rebuild is one run of the selection from an old boundary until it
// meets the old cut again.
type rebuild struct {
	p       *pipeline
	d       DiskSpec
	f       *fetcher
	e       *emitter
	areas   []image.Extent
	next    int   // first area not yet known to lie before the last cut
	dirty   int64 // end of the areas before the last cut
	sel     *chunker.Selector
	out     []chunker.Piece
	marks   []chunker.Mark
	buf     []byte // bytes [bufOff, bufOff+len) fed but not yet cut off
	bufOff  int64
	oldEnds []int64 // ends of old extents fed, past the last cut
	repairs []image.Extent
}

// run feeds old extents from x on and returns where the cuts met.
func (r *rebuild) run(ctx context.Context, prev prevMap, x catalog.Extent, size int64) (int64, error) {
	for {
		r.oldEnds = append(r.oldEnds, x.End())
		met, err := r.extent(ctx, x)
		if err != nil || met >= 0 {
			return met, err
		}
		if x.End() >= size {
			break
		}
		if x, err = prev.Lookup(ctx, x.End()); err != nil {
			return 0, fmt.Errorf("previous point at offset %d: %w", x.End(), err)
		}
	}
	r.out = r.sel.Flush(r.out[:0])
	r.next = len(r.areas)
	_, err := r.emit(ctx)
	return size, err
}

// extent feeds the current bytes of old extent x: its old chunk (zeros for
// a hole) with the changed areas read over it. It returns where the cuts
// met, or -1.
func (r *rebuild) extent(ctx context.Context, x catalog.Extent) (int64, error) {
	if x.ID.IsZero() {
		return r.hole(ctx, x)
	}
	b, marks, err := r.f.get(ctx, x)
	if r.d.Local {
		if err != nil {
			return 0, err
		}
		return r.feedMarked(ctx, b, marks) // the disk's bytes are the current ones
	}
	if err == nil && int64(len(b)) != x.Len {
		err = fmt.Errorf("chunk %s has %d bytes, want %d", x.ID, len(b), x.Len)
	}
	if err != nil {
		// The old copy is lost or damaged: read the whole extent and
		// store what covers it even if the catalog knows it.
		b = make([]byte, x.Len)
		n, err := readFull(r.d.Disk, b, x.Off)
		r.p.read.Add(n)
		if err != nil {
			return 0, err
		}
		r.repairs = append(r.repairs, image.Extent{Off: x.Off, Len: x.Len})
		return r.feed(ctx, b)
	}
	if err := r.overlay(b, x.Off); err != nil {
		return 0, err
	}
	return r.feed(ctx, b)
}

// hole feeds an old hole: zeros, but for the blocks a changed area touches.
func (r *rebuild) hole(ctx context.Context, x catalog.Extent) (int64, error) {
	pos := x.Off
	k := sort.Search(len(r.areas), func(k int) bool { return r.areas[k].Off+r.areas[k].Len > x.Off })
	for ; k < len(r.areas) && r.areas[k].Off < x.End(); k++ {
		lo := max(r.areas[k].Off/chunker.Block*chunker.Block, pos)
		hi := min((r.areas[k].Off+r.areas[k].Len+chunker.Block-1)/chunker.Block*chunker.Block, x.End())
		if lo >= hi {
			continue
		}
		if met, err := r.zeros(ctx, lo-pos); err != nil || met >= 0 {
			return met, err
		}
		b := make([]byte, hi-lo)
		if err := r.overlay(b, lo); err != nil {
			return 0, err
		}
		if met, err := r.feed(ctx, b); err != nil || met >= 0 {
			return met, err
		}
		pos = hi
	}
	return r.zeros(ctx, x.End()-pos)
}

// overlay reads the changed bytes within [off, off+len(b)) over b.
func (r *rebuild) overlay(b []byte, off int64) error {
	end := off + int64(len(b))
	k := sort.Search(len(r.areas), func(k int) bool { return r.areas[k].Off+r.areas[k].Len > off })
	for ; k < len(r.areas) && r.areas[k].Off < end; k++ {
		lo, hi := max(r.areas[k].Off, off), min(r.areas[k].Off+r.areas[k].Len, end)
		n, err := readFull(r.d.Disk, b[lo-off:hi-off], lo)
		r.p.read.Add(n)
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *rebuild) zeros(ctx context.Context, n int64) (int64, error) {
	if n <= 0 {
		return -1, nil
	}
	r.out = r.sel.AddZeros(r.out[:0], n)
	if met, err := r.emit(ctx); err != nil || met >= 0 {
		return met, err
	}
	// All that is open now is a hole. buf may still hold zeros fed for it
	// (a changed area of zeros); the zeros just added are not in buf, so
	// bytes fed next must not be appended to those.
	r.buf, r.bufOff = nil, r.sel.Pos()
	return -1, nil
}

func (r *rebuild) feed(ctx context.Context, b []byte) (int64, error) {
	return r.feedMarked(ctx, b, nil)
}

// feedMarked is feed with the marks of b's blocks, if known.
func (r *rebuild) feedMarked(ctx context.Context, b []byte, marks []chunker.Mark) (int64, error) {
	// Pieces keep slices of buf, so buf is never written once filled: b is
	// taken as it is, found right after the bytes left (the next extent
	// of one fetch window), or joined to them in a new buffer.
	switch {
	case len(r.buf) == 0:
		r.buf, r.bufOff = b, r.sel.Pos()
	case follows(r.buf, b):
		r.buf = r.buf[:len(r.buf)+len(b)]
	default:
		nb := make([]byte, len(r.buf)+len(b))
		copy(nb[copy(nb, r.buf):], b)
		r.buf = nb
	}
	if marks == nil {
		r.marks = r.p.cut.Marks(r.marks[:0], b)
		marks = r.marks
	}
	for i, m := range marks {
		r.out = r.sel.Add(r.out[:0], m, min(chunker.Block, len(b)-i*chunker.Block))
		if len(r.out) == 0 {
			continue
		}
		if met, err := r.emit(ctx); err != nil || met >= 0 {
			return met, err
		}
	}
	return -1, nil
}

// follows reports whether b's bytes are the ones right after a's in
// memory: within a's capacity, so both slice one array.
func follows(a, b []byte) bool {
	n := len(a)
	return len(b) > 0 && cap(a)-n >= len(b) && &a[:n+1][n] == &b[0]
}

// emit hands on the pieces in r.out and returns the first of their ends
// where the cuts meet (then the rest of the pieces are dropped), or -1.
func (r *rebuild) emit(ctx context.Context) (int64, error) {
	for _, x := range r.out {
		pc := &piece{ext: catalog.Extent{Off: x.Off, Len: x.Len}}
		if !x.Hole {
			lo, hi := x.Off-r.bufOff, x.End()-r.bufOff
			if lo < 0 || hi > int64(len(r.buf)) {
				return 0, fmt.Errorf("internal error: chunk [%d,%d) not in the rebuild's bytes", x.Off, x.End())
			}
			pc.data = r.buf[lo:hi:hi]
			pc.repair = r.overlapsRepair(x)
		}
		if err := r.e.put(ctx, pc); err != nil {
			return 0, err
		}
		if n := x.End() - r.bufOff; n >= int64(len(r.buf)) {
			r.buf, r.bufOff = nil, x.End()
		} else if n > 0 {
			r.buf, r.bufOff = r.buf[n:], x.End()
		}
		if r.met(x.End()) {
			return x.End(), nil
		}
	}
	return -1, nil
}

// met reports whether b, a new boundary, is an old one past every changed
// area before it.
func (r *rebuild) met(b int64) bool {
	for r.next < len(r.areas) && r.areas[r.next].Off < b {
		r.dirty = max(r.dirty, r.areas[r.next].Off+r.areas[r.next].Len)
		r.next++
	}
	for len(r.oldEnds) > 0 && r.oldEnds[0] < b {
		r.oldEnds = r.oldEnds[1:]
	}
	return b >= r.dirty && len(r.oldEnds) > 0 && r.oldEnds[0] == b
}

func (r *rebuild) overlapsRepair(x chunker.Piece) bool {
	for _, e := range r.repairs {
		if e.Off < x.End() && x.Off < e.Off+e.Len {
			return true
		}
	}
	return false
}
