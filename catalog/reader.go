package catalog

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// DiskReader reads one disk of one point as an io.ReaderAt. It is safe for
// concurrent use.
type DiskReader struct {
	repo    *Repo
	point   *Manifest
	disk    *DiskRecord
	m       *DiskMap
	lastEnd atomic.Int64 // end of the extent the latest ReadAt read, for readahead
	ahead   int64        // bytes of chunks fetched ahead of the reader (SetReadahead)
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
	dr := &DiskReader{repo: r, point: p, disk: d, m: m, ahead: DefaultReadahead}
	dr.lastEnd.Store(-1)
	return dr, nil
}

// readahead is how many extents a sequential reader fetches ahead in a
// local store; remoteReadahead in an object store, whose fetches wait on
// the network more than on the CPU, so as many may be in flight at once
// (across all disks; a local store has one per core). A reader's byte
// bound (SetReadahead) may allow fewer.
const (
	readahead       = 4
	remoteReadahead = 8
)

// DefaultReadahead is a DiskReader's read-ahead bound in bytes until
// SetReadahead: 32 MiB, eight of the largest chunks a default repository
// cuts (4 MiB).
const DefaultReadahead = 32 << 20

// SetReadahead bounds in bytes the chunks d fetches ahead of its caller,
// counted in whole chunks: Stream holds at most n bytes of decoded chunks
// not yet through its fn (at least one chunk, fetched when fn is done with
// the one before when n is 0), and a sequential ReadAt asks in the
// background only for the chunks within n bytes of data after the one it
// read (none when n is 0). Call it before the first read.
func (d *DiskReader) SetReadahead(n int64) { d.ahead = max(n, 0) }

// Readahead returns the bound SetReadahead set (DefaultReadahead before).
func (d *DiskReader) Readahead() int64 { return d.ahead }

// prefetch loads the extents after e into the cache in the background when
// reads are sequential, so decompression overlaps with the reader's work.
func (d *DiskReader) prefetch(ctx context.Context, e Extent) {
	if prev := d.lastEnd.Swap(e.End()); prev != e.Off || d.ahead == 0 {
		return
	}
	var next []Extent
	var bytes int64
	d.m.Extents(ctx, e.End(), d.m.size, func(x Extent) error {
		if x.ID.IsZero() {
			return nil // a hole costs nothing to read: look past it
		}
		if bytes += x.Len; bytes > d.ahead {
			return errStop
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
// that cannot be read ends the stream with a *ReadError naming it. The
// chunks fetched but not yet through fn (including the one in fn) hold at
// most the reader's read-ahead in bytes (SetReadahead), or one chunk.
func (d *DiskReader) Stream(ctx context.Context, fn func(e Extent, b []byte) error) error {
	if d.ahead == 0 {
		return d.streamInline(ctx, fn)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		e   Extent
		b   []byte
		w   int64 // bytes of budget held
		err error
	}
	budget := semaphore.NewWeighted(d.ahead)
	slots := make(chan chan result, streamSlots)
	go func() {
		defer close(slots)
		sem := make(chan struct{}, workers())
		var pos int64 // where the map is being read, for its errors
		err := d.m.Extents(ctx, 0, d.m.size, func(e Extent) error {
			pos = e.End()
			ch := make(chan result, 1)
			if e.ID.IsZero() {
				ch <- result{e: e}
			} else {
				w := min(e.Len, d.ahead)
				if err := budget.Acquire(ctx, w); err != nil {
					return err
				}
				sem <- struct{}{}
				go func() {
					defer func() { <-sem }()
					b, err := d.streamExtent(ctx, e)
					ch <- result{e: e, b: b, w: w, err: err}
				}()
			}
			select {
			case slots <- ch:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
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
		err := fn(r.e, r.b)
		budget.Release(r.w)
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// streamSlots bounds the extents (holes, or chunks within the byte
// budget) a Stream queues ahead of fn.
const streamSlots = 64

// streamInline is Stream without read-ahead: each chunk is fetched when
// fn is done with the one before.
func (d *DiskReader) streamInline(ctx context.Context, fn func(e Extent, b []byte) error) error {
	var pos int64
	var stop error // a read or fn error, returned as is
	err := d.m.Extents(ctx, 0, d.m.size, func(e Extent) error {
		pos = e.End()
		var b []byte
		if !e.ID.IsZero() {
			if b, stop = d.streamExtent(ctx, e); stop != nil {
				return stop
			}
		}
		stop = fn(e, b)
		return stop
	})
	if stop != nil {
		return stop
	}
	if err != nil {
		return d.wrap(pos, err)
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
