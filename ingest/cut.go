package ingest

import (
	"context"
	"fmt"
	"sync"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest/chunker"
)

// cutState runs the selection over segments in disk order and emits the
// pieces. A chunk inside one segment is handed on as a slice of it; one
// spanning segments (or a gap) is copied into a carry buffer.
type cutState struct {
	p      *pipeline
	e      *emitter
	sel    *chunker.Selector
	out    []chunker.Piece
	carry  *[]byte // bytes [carryOff, carryOff+len) of the open chunk
	carOff int64
	bounds []int64 // boundaries not yet passed (DiskSpec.Boundaries)
	// boundsTo is where bounds end; src gives those after it.
	boundsTo int64
	src      BoundarySource
}

// moreBounds takes the boundaries from src up to past pos.
func (c *cutState) moreBounds(ctx context.Context, pos int64) error {
	for pos >= c.boundsTo {
		cuts, to, err := c.src.Next(ctx, c.boundsTo)
		if err != nil {
			return err
		}
		for i, b := range cuts {
			if b%chunker.Block != 0 || b < c.boundsTo || b >= to || i > 0 && b <= cuts[i-1] {
				return fmt.Errorf("boundary %d is not in order in [%d,%d) or not a multiple of %d", b, c.boundsTo, to, chunker.Block)
			}
		}
		if to <= c.boundsTo {
			return fmt.Errorf("boundaries from %d end at %d", c.boundsTo, to)
		}
		c.bounds, c.boundsTo = append(c.bounds, cuts...), to
	}
	return nil
}

var carryPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<20); return &b }}

// segment feeds one read segment, which starts at or after the selector's
// position (the gap between is zeros).
func (c *cutState) segment(ctx context.Context, s *segment) error {
	defer s.unref()
	c.out = c.sel.AddZeros(c.out[:0], s.off-c.sel.Pos())
	if err := c.emit(ctx, nil); err != nil {
		return err
	}
	for i, m := range s.marks {
		pos := s.off + int64(i)*chunker.Block
		if pos >= c.boundsTo {
			if err := c.moreBounds(ctx, pos); err != nil {
				return err
			}
		}
		if len(c.bounds) > 0 && c.bounds[0] <= pos {
			if err := c.boundary(ctx, s, pos); err != nil {
				return err
			}
		}
		c.out = c.sel.Add(c.out[:0], m, min(chunker.Block, len(s.buf)-i*chunker.Block))
		if len(c.out) > 0 {
			if err := c.emit(ctx, s); err != nil {
				return err
			}
		}
	}
	if c.sel.OpenData() {
		from := max(c.sel.Start(), s.off)
		if c.carry == nil {
			c.carry, c.carOff = carryPool.Get().(*[]byte), from
			*c.carry = (*c.carry)[:0]
		}
		*c.carry = append(*c.carry, s.buf[from-s.off:]...)
	}
	return nil
}

// boundary passes the boundaries up to pos, and ends the open chunk at
// pos if one of them is there.
func (c *cutState) boundary(ctx context.Context, s *segment, pos int64) error {
	at := false
	for len(c.bounds) > 0 && c.bounds[0] <= pos {
		at = at || c.bounds[0] == pos
		c.bounds = c.bounds[1:]
	}
	if !at {
		return nil
	}
	c.out = c.sel.Boundary(c.out[:0])
	return c.emit(ctx, s)
}

// end flushes the selection at the disk's end.
func (c *cutState) end(ctx context.Context, size int64) error {
	c.out = c.sel.AddZeros(c.out[:0], size-c.sel.Pos())
	c.out = c.sel.Flush(c.out)
	return c.emit(ctx, nil)
}

// emit hands on the pieces in c.out; s is the segment being fed, if any.
func (c *cutState) emit(ctx context.Context, s *segment) error {
	for _, x := range c.out {
		pc := &piece{ext: catalog.Extent{Off: x.Off, Len: x.Len}}
		switch {
		case x.Hole:
		case s != nil && x.Off >= s.off:
			pc.data = s.buf[x.Off-s.off : x.End()-s.off]
			s.ref()
			pc.free = s.unref
		default:
			cb := c.carry
			if cb == nil || c.carOff != x.Off {
				return fmt.Errorf("internal error: chunk at %d has no carried bytes", x.Off)
			}
			if s != nil && x.End() > s.off {
				*cb = append(*cb, s.buf[:x.End()-s.off]...)
			}
			c.carry = nil
			if int64(len(*cb)) != x.Len {
				return fmt.Errorf("internal error: chunk at %d has %d carried bytes, want %d", x.Off, len(*cb), x.Len)
			}
			pc.data = *cb
			pc.free = func() { carryPool.Put(cb) }
		}
		if err := c.e.put(ctx, pc); err != nil {
			return err
		}
	}
	return nil
}
