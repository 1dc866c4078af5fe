// Package overlay is a copy-on-write layer over a read-only disk: writes
// land in a sparse file, the base is never written. It keeps the guest's
// writes while a VM runs from an archived point (vmarchive nbd --overlay).
//
// # Files
//
//	FILE        the written blocks, each at its own disk offset (sparse;
//	            as long as the disk)
//	FILE.map    which 4 KiB blocks FILE holds (Map, map.go)
//
// A block is in FILE once written or zeroed; its bit is set only after
// its data is written, and FILE.map is replaced (write, fsync, rename)
// on Flush after FILE is synced, so a crash loses at most the writes
// since the last flush, never mixes a block's old and new bytes in one
// read of FILE.map's view. The map names its base (Ident) and size: an
// overlay opened over another point is refused.
//
// Imports nothing from the project.
package overlay

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// BlockSize is the granularity of the copy-on-write.
const BlockSize = 4096

// Base is the disk under the overlay. When it also has an Extents method
// (as in package nbd's Mapper), zero extents of the base are reported as
// such through the overlay.
type Base interface {
	io.ReaderAt
}

type mapper interface {
	Extents(off, n int64, fn func(off, n int64, zero bool) error) error
}

// Overlay is a disk: Base with the writes of FILE on top. Reads run in
// parallel; writes and zeroes are serialized.
type Overlay struct {
	base  Base
	size  int64
	ident string
	path  string
	f     *os.File
	bits  []uint64 // one per block, set atomically once its data is in f

	wmu   sync.Mutex // serializes writes, zeroes and flushes
	dirty bool       // bits changed since the map was saved; guarded by wmu
}

// ErrMismatch is returned when an overlay belongs to another base.
var ErrMismatch = errors.New("overlay belongs to another disk")

// Open opens the overlay at path over base (size bytes, named ident),
// creating it when neither FILE nor FILE.map exists.
func Open(path string, base Base, size int64, ident string) (*Overlay, error) {
	if size < 0 {
		return nil, fmt.Errorf("overlay %s: negative size %d", path, size)
	}
	o := &Overlay{base: base, size: size, ident: ident, path: path}
	nblocks := (size + BlockSize - 1) / BlockSize
	_, errData := os.Stat(path)
	m, err := readMap(path + ".map")
	switch {
	case err == nil:
		if m.Ident != ident || m.Size != size {
			return nil, fmt.Errorf("overlay %s was made over %q (%d bytes), not %q (%d bytes): %w", path, m.Ident, m.Size, ident, size, ErrMismatch)
		}
		if errData != nil {
			return nil, fmt.Errorf("overlay %s: its map exists but the data file does not: %w", path, errData)
		}
		o.bits = m.Bits
	case errors.Is(err, os.ErrNotExist) && errors.Is(errData, os.ErrNotExist):
		o.bits = make([]uint64, (nblocks+63)/64)
		o.dirty = true
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("overlay %s has no map %s: refusing to guess which blocks it holds", path, path+".map")
	default:
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open overlay: %w", err)
	}
	o.f = f
	if err := f.Truncate(size); err != nil {
		f.Close()
		return nil, fmt.Errorf("overlay %s: size it to %d: %w", path, size, err)
	}
	if err := o.Flush(); err != nil { // a new overlay's map exists from the start
		f.Close()
		return nil, err
	}
	return o, nil
}

// Size is the disk's size.
func (o *Overlay) Size() int64 { return o.size }

func (o *Overlay) has(blk int64) bool {
	return atomic.LoadUint64(&o.bits[blk/64])&(1<<(blk%64)) != 0
}

func (o *Overlay) set(blk int64) { atomic.OrUint64(&o.bits[blk/64], 1<<(blk%64)) }

// run returns the end (exclusive, at most limit) of the run of blocks
// from blk that are all in the overlay (in) or all not.
func (o *Overlay) run(blk, limit int64) (end int64, in bool) {
	in = o.has(blk)
	end = blk + 1
	for end < limit {
		if end%64 == 0 && end+64 <= limit {
			w := atomic.LoadUint64(&o.bits[end/64])
			if (in && w == ^uint64(0)) || (!in && w == 0) {
				end += 64
				continue
			}
		}
		if o.has(end) != in {
			break
		}
		end++
	}
	return end, in
}

// ReadAt reads the disk: written blocks from FILE, the rest from the base.
func (o *Overlay) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("overlay read at negative offset %d", off)
	}
	if off >= o.size {
		return 0, io.EOF
	}
	want := len(p)
	if int64(len(p)) > o.size-off {
		p = p[:o.size-off]
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		end, in := o.run(pos/BlockSize, (pos+int64(len(p)-n)+BlockSize-1)/BlockSize)
		c := min(int64(len(p)-n), end*BlockSize-pos)
		var err error
		if in {
			_, err = o.f.ReadAt(p[n:n+int(c)], pos)
		} else {
			_, err = readFull(o.base, p[n:n+int(c)], pos)
		}
		if err != nil {
			return n, fmt.Errorf("overlay read at %d: %w", pos, err)
		}
		n += int(c)
	}
	if n < want {
		return n, io.EOF
	}
	return n, nil
}

// readFull is ReadAt that takes io.EOF with a whole buffer as success.
func readFull(r io.ReaderAt, p []byte, off int64) (int, error) {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return n, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// Extents reports [off, off+n) as extents in order: blocks in the
// overlay as data, the rest as the base reports them (all data when the
// base cannot tell).
func (o *Overlay) Extents(off, n int64, fn func(off, n int64, zero bool) error) error {
	end := min(off+n, o.size)
	for pos := off; pos < end; {
		runEnd, in := o.run(pos/BlockSize, (end+BlockSize-1)/BlockSize)
		c := min(end, runEnd*BlockSize) - pos
		var err error
		if m, ok := o.base.(mapper); ok && !in {
			err = m.Extents(pos, c, fn)
		} else {
			err = fn(pos, c, false)
		}
		if err != nil {
			return err
		}
		pos += c
	}
	return nil
}

// Written calls fn for each run of blocks the overlay holds, in order:
// the areas where the disk may differ from the base.
func (o *Overlay) Written(fn func(off, n int64) error) error {
	nblocks := (o.size + BlockSize - 1) / BlockSize
	for blk := int64(0); blk < nblocks; {
		end, in := o.run(blk, nblocks)
		if in {
			if err := fn(blk*BlockSize, min(end*BlockSize, o.size)-blk*BlockSize); err != nil {
				return err
			}
		}
		blk = end
	}
	return nil
}

// Close saves the map and closes FILE.
func (o *Overlay) Close() error {
	err := o.Flush()
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	return err
}
