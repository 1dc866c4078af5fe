package overlay

import (
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// WriteAt writes p at off into the overlay; the base is not touched.
func (o *Overlay) WriteAt(p []byte, off int64) (int, error) {
	if err := o.check(off, int64(len(p))); err != nil {
		return 0, err
	}
	o.wmu.Lock()
	defer o.wmu.Unlock()
	if err := o.modify(off, int64(len(p)), p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Zero makes [off, off+n) read as zeros: whole blocks become holes of
// FILE, partial ones are written.
func (o *Overlay) Zero(off, n int64) error {
	if err := o.check(off, n); err != nil {
		return err
	}
	o.wmu.Lock()
	defer o.wmu.Unlock()
	return o.modify(off, n, nil)
}

func (o *Overlay) check(off, n int64) error {
	if off < 0 || n < 0 || off > o.size || n > o.size-off {
		return fmt.Errorf("overlay write of %d bytes at %d: outside the %d-byte disk", n, off, o.size)
	}
	return nil
}

// modify puts data (nil: zeros) at [off, off+n): partial blocks at the
// edges are completed from the disk first, whole blocks written at once.
// Bits are set after the data is in FILE. Called with wmu held.
func (o *Overlay) modify(off, n int64, data []byte) error {
	end := off + n
	first, last := off/BlockSize, (end+BlockSize-1)/BlockSize
	lo, hi := first*BlockSize, min(last*BlockSize, o.size)
	if off != lo {
		if err := o.partial(first, off, end, data); err != nil {
			return err
		}
		lo = min((first+1)*BlockSize, end)
	}
	if end != hi && end > lo {
		tail := (end - 1) / BlockSize
		if err := o.partial(tail, max(off, tail*BlockSize), end, tailData(data, off, tail)); err != nil {
			return err
		}
		hi = tail * BlockSize
	} else {
		hi = end
	}
	if hi > lo {
		if err := o.whole(lo, hi, sub(data, lo-off, hi-off)); err != nil {
			return err
		}
		for b := lo / BlockSize; b < (hi+BlockSize-1)/BlockSize; b++ {
			o.set(b)
		}
	}
	o.dirty = true
	return nil
}

func sub(data []byte, from, to int64) []byte {
	if data == nil {
		return nil
	}
	return data[from:to]
}

// tailData is data from the start of block tail (or off, if later) on.
func tailData(data []byte, off, tail int64) []byte {
	if data == nil {
		return nil
	}
	return data[max(0, tail*BlockSize-off):]
}

// partial writes [from, to) ∩ block blk: the block is read whole (from
// the overlay or the base), changed and written back whole.
func (o *Overlay) partial(blk, from, to int64, data []byte) error {
	bo := blk * BlockSize
	be := min(bo+BlockSize, o.size)
	to = min(to, be)
	buf := make([]byte, be-bo)
	if _, err := o.ReadAt(buf, bo); err != nil {
		return fmt.Errorf("overlay: read block %d to change part of it: %w", blk, err)
	}
	if data == nil {
		clear(buf[from-bo : to-bo])
	} else {
		copy(buf[from-bo:to-bo], data)
	}
	if _, err := o.f.WriteAt(buf, bo); err != nil {
		return fmt.Errorf("overlay: write block %d: %w", blk, err)
	}
	o.set(blk)
	return nil
}

// whole writes data (nil: zeros, as a hole punched where the filesystem
// can) at [lo, hi), whole blocks.
func (o *Overlay) whole(lo, hi int64, data []byte) error {
	if data != nil {
		if _, err := o.f.WriteAt(data, lo); err != nil {
			return fmt.Errorf("overlay: write at %d: %w", lo, err)
		}
		return nil
	}
	err := unix.Fallocate(int(o.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, lo, hi-lo)
	if err == nil {
		return nil
	}
	zeros := make([]byte, min(hi-lo, 1<<20))
	for pos := lo; pos < hi; pos += int64(len(zeros)) {
		if _, err := o.f.WriteAt(zeros[:min(int64(len(zeros)), hi-pos)], pos); err != nil {
			return fmt.Errorf("overlay: zero at %d: %w", pos, err)
		}
	}
	return nil
}

// Flush makes the written blocks durable: FILE is synced, then its map
// replaced.
func (o *Overlay) Flush() error {
	o.wmu.Lock()
	defer o.wmu.Unlock()
	if err := o.f.Sync(); err != nil {
		return fmt.Errorf("overlay %s: sync: %w", o.path, err)
	}
	if !o.dirty {
		return nil
	}
	if err := writeMap(o.path+".map", &Map{Ident: o.ident, Size: o.size, Bits: o.snapshot()}); err != nil {
		return err
	}
	o.dirty = false
	return nil
}

func (o *Overlay) snapshot() []uint64 {
	out := make([]uint64, len(o.bits))
	for i := range o.bits {
		out[i] = atomic.LoadUint64(&o.bits[i])
	}
	return out
}
