package catalog

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
)

// DiskReader reads one disk of one point as an io.ReaderAt. It is safe for
// concurrent use.
type DiskReader struct {
	repo    *Repo
	point   *Manifest
	disk    *DiskRecord
	m       *DiskMap
	lastEnd atomic.Int64 // end of the extent the latest ReadAt read, for readahead
}

// OpenDisk opens a disk of a point for reading.
func (r *Repo) OpenDisk(ctx context.Context, p *Manifest, disk string) (*DiskReader, error) {
	d, err := p.Disk(disk)
	if err != nil {
		return nil, err
	}
	m, err := r.OpenDiskMap(ctx, p, d)
	if err != nil {
		return nil, fmt.Errorf("point %s: %w", p.ID(), err)
	}
	dr := &DiskReader{repo: r, point: p, disk: d, m: m}
	dr.lastEnd.Store(-1)
	return dr, nil
}

// readahead is how many extents a sequential reader fetches ahead in a
// local store; remoteReadahead in an object store, whose fetches wait on
// the network more than on the CPU, so as many may be in flight at once
// (across all disks; a local store has one per core).
const (
	readahead       = 4
	remoteReadahead = 8
)

// prefetch loads the extents after e into the cache in the background when
// reads are sequential, so decompression overlaps with the reader's work.
func (d *DiskReader) prefetch(ctx context.Context, e Extent) {
	if prev := d.lastEnd.Swap(e.End()); prev != e.Off {
		return
	}
	var next []Extent
	d.m.Extents(ctx, e.End(), d.m.size, func(x Extent) error {
		if x.ID.IsZero() {
			return nil // a hole costs nothing to read: look past it
		}
		next = append(next, x)
		if len(next) == d.repo.readahead {
			return errStop
		}
		return nil
	})
	for _, x := range next {
		select {
		case d.repo.prefetchSem <- struct{}{}:
		default:
			return // enough in flight
		}
		go func(x Extent) {
			defer func() { <-d.repo.prefetchSem }()
			ctx, cancel := context.WithTimeout(context.Background(), d.repo.fetchTimeout)
			defer cancel()
			d.extent(ctx, x)
		}(x)
	}
}

// Size returns the disk size.
func (d *DiskReader) Size() int64 { return d.m.size }

// Map returns the disk's map.
func (d *DiskReader) Map() *DiskMap { return d.m }

// extent returns the plaintext of e, not a hole (shared, read-only).
func (d *DiskReader) extent(ctx context.Context, e Extent) ([]byte, error) {
	b, err := d.repo.readBlob(ctx, e.ID, d.m.maxChunk)
	return d.check(e, b, err)
}

func (d *DiskReader) check(e Extent, b []byte, err error) ([]byte, error) {
	if err != nil {
		return nil, d.wrap(e.Off, err)
	}
	if int64(len(b)) != e.Len {
		return nil, d.wrap(e.Off, fmt.Errorf("chunk %s has %d bytes, want %d: %w", e.ID, len(b), e.Len, ErrCorrupt))
	}
	return b, nil
}

func (d *DiskReader) wrap(off int64, err error) error {
	return &ReadError{Disk: d.point.DiskRef(d.disk.Name), Offset: off, Err: err}
}

// ReadError is a failure to read the chunk at Offset of a point's disk.
type ReadError struct {
	Disk   DiskRef
	Offset int64
	Err    error
}

func (e *ReadError) Error() string {
	return fmt.Sprintf("%s at offset %d: %v", e.Disk, e.Offset, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// ReadAt implements io.ReaderAt.
func (d *DiskReader) ReadAt(p []byte, off int64) (int, error) {
	return d.ReadAtContext(context.Background(), p, off)
}

// ReadAtContext is ReadAt that gives up when ctx is done, as far as the
// backend honours it.
func (d *DiskReader) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read at negative offset %d", off)
	}
	if off >= d.m.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && off < d.m.size {
		e, err := d.m.Lookup(ctx, off)
		if err != nil {
			return n, d.wrap(off, err)
		}
		if e.End() != d.lastEnd.Load() {
			d.prefetch(ctx, e)
		}
		var c int
		if e.ID.IsZero() {
			c = int(min(int64(len(p)-n), e.End()-off))
			clear(p[n : n+c])
		} else {
			b, err := d.extent(ctx, e)
			if err != nil {
				return n, err
			}
			c = copy(p[n:], b[off-e.Off:])
		}
		n += c
		off += int64(c)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteTo streams the whole disk to w in order, fetching and decompressing
// chunks on all cores ahead of the writer, without filling the cache.
func (d *DiskReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	err := d.Stream(context.Background(), func(e Extent, b []byte) error {
		n, err := writeData(w, b, e.Len)
		total += n
		return err
	})
	return total, err
}

// Stream calls fn for every extent of the disk in order with its bytes
// (nil for a hole), fetching and decompressing chunks on all cores ahead
// of fn, without filling the cache. b is fn's until it returns. A chunk
// that cannot be read ends the stream with a *ReadError naming it.
func (d *DiskReader) Stream(ctx context.Context, fn func(e Extent, b []byte) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		e   Extent
		b   []byte
		err error
	}
	const ahead = 8
	slots := make(chan chan result, ahead)
	go func() {
		defer close(slots)
		sem := make(chan struct{}, workers())
		var pos int64 // where the map is being read, for its errors
		err := d.m.Extents(ctx, 0, d.m.size, func(e Extent) error {
			pos = e.End()
			ch := make(chan result, 1)
			select {
			case slots <- ch:
			case <-ctx.Done():
				return ctx.Err()
			}
			if e.ID.IsZero() {
				ch <- result{e: e}
				return nil
			}
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				b, err := d.streamExtent(ctx, e)
				ch <- result{e: e, b: b, err: err}
			}()
			return nil
		})
		if err != nil {
			ch := make(chan result, 1)
			ch <- result{err: d.wrap(pos, err)}
			select {
			case slots <- ch:
			case <-ctx.Done():
			}
		}
	}()
	for ch := range slots {
		r := <-ch
		if r.err != nil {
			return r.err
		}
		if err := fn(r.e, r.b); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// writeData writes b, or a hole of n zeros when b is nil.
func writeData(w io.Writer, b []byte, n int64) (int64, error) {
	if b != nil {
		k, err := w.Write(b)
		return int64(k), err
	}
	var total int64
	for total < n {
		k, err := w.Write(zeros[:min(n-total, int64(len(zeros)))])
		total += int64(k)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// streamExtent is extent without filling the cache: a stream reads each
// chunk once.
func (d *DiskReader) streamExtent(ctx context.Context, e Extent) ([]byte, error) {
	if b, ok := d.repo.cache.get(e.ID); ok {
		return d.check(e, b, nil)
	}
	b, err := d.repo.fetch(ctx, e.ID, d.m.maxChunk)
	return d.check(e, b, err)
}
