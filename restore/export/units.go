package export

import (
	"context"
	"fmt"
	"math/bits"
)

// alloc says which units (clusters, blocks) of a disk hold data.
type alloc struct {
	unit  int64
	n     int64 // units of the disk, the last perhaps partial
	bits  []uint64
	count int64 // units set
}

// layout walks src's map and marks every unit a data extent touches.
func layout(ctx context.Context, src Source, unit int64) (*alloc, error) {
	n := (src.Size() + unit - 1) / unit
	a := &alloc{unit: unit, n: n, bits: make([]uint64, (n+63)/64)}
	err := src.Layout(ctx, func(e Extent) error {
		if !e.Data || e.Len == 0 {
			return nil
		}
		for u := e.Off / unit; u <= (e.End()-1)/unit; u++ {
			if !a.has(u) {
				a.bits[u/64] |= 1 << (u % 64)
				a.count++
			}
		}
		return nil
	})
	return a, err
}

func (a *alloc) has(u int64) bool { return a.bits[u/64]&(1<<(u%64)) != 0 }

// countIn is how many of the units [from, to) are set.
func (a *alloc) countIn(from, to int64) int64 {
	var c int64
	for u := from; u < to; {
		if u%64 == 0 && to-u >= 64 {
			c += int64(bits.OnesCount64(a.bits[u/64]))
			u += 64
			continue
		}
		if a.has(u) {
			c++
		}
		u++
	}
	return c
}

// units streams src by units of size unit: fn gets each unit that is
// wanted, whole (zeros where the disk has holes or ends), in order. With
// a nil want, the units data extents touch are wanted.
type units struct {
	unit int64
	want func(u int64) bool
	fn   func(u int64, b []byte) error
	buf  []byte
	cur  int64 // unit in buf, or -1
}

func streamUnits(ctx context.Context, src Source, unit int64, want func(int64) bool, fn func(int64, []byte) error) error {
	us := &units{unit: unit, want: want, fn: fn, buf: make([]byte, unit), cur: -1}
	if err := src.Stream(ctx, us.extent); err != nil {
		return err
	}
	return us.flush()
}

func (us *units) extent(e Extent, b []byte) error {
	if e.Len == 0 {
		return nil
	}
	first, last := e.Off/us.unit, (e.End()-1)/us.unit
	if b == nil {
		// A hole only matters in wanted units it shares with data.
		for _, u := range []int64{first, last} {
			if us.want != nil && us.want(u) {
				if err := us.switchTo(u); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for u := first; u <= last; u++ {
		if us.want != nil && !us.want(u) {
			return fmt.Errorf("data at offset %d in unit %d that the layout left out", max(e.Off, u*us.unit), u)
		}
		start, end := max(e.Off, u*us.unit), min(e.End(), (u+1)*us.unit)
		piece := b[start-e.Off : end-e.Off]
		if int64(len(piece)) == us.unit && u != us.cur {
			// A whole unit inside the extent: no copy.
			if err := us.flush(); err != nil {
				return err
			}
			if err := us.fn(u, piece); err != nil {
				return err
			}
			continue
		}
		if err := us.switchTo(u); err != nil {
			return err
		}
		copy(us.buf[start-u*us.unit:], piece)
	}
	return nil
}

// switchTo makes u the unit in buf, emitting the one before.
func (us *units) switchTo(u int64) error {
	if u == us.cur {
		return nil
	}
	if err := us.flush(); err != nil {
		return err
	}
	clear(us.buf)
	us.cur = u
	return nil
}

func (us *units) flush() error {
	if us.cur < 0 {
		return nil
	}
	u := us.cur
	us.cur = -1
	return us.fn(u, us.buf)
}
