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
	repo  *Repo
	point *Manifest
	disk  *DiskRecord
	m     *DiskMap
	last  atomic.Int64 // chunk index of the latest ReadAt, for readahead
}

// OpenDisk opens a disk of a point for reading.
func (r *Repo) OpenDisk(ctx context.Context, p *Manifest, disk string) (*DiskReader, error) {
	d, err := p.Disk(disk)
	if err != nil {
		return nil, err
	}
	m, err := r.OpenDiskMap(ctx, p.ChunkSize, d)
	if err != nil {
		return nil, fmt.Errorf("point %s: %w", p.ID(), err)
	}
	dr := &DiskReader{repo: r, point: p, disk: d, m: m}
	dr.last.Store(-2)
	return dr, nil
}

// readahead is how many chunks a sequential reader fetches ahead.
const readahead = 2

// prefetch loads the chunks after i into the cache in the background when
// reads are sequential, so decompression overlaps with the reader's work.
func (d *DiskReader) prefetch(i int64) {
	if prev := d.last.Swap(i); prev != i-1 {
		return
	}
	for j := i + 1; j <= i+readahead && j < d.m.chunks; j++ {
		select {
		case d.repo.prefetchSem <- struct{}{}:
		default:
			return // enough in flight
		}
		go func(j int64) {
			defer func() { <-d.repo.prefetchSem }()
			ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
			defer cancel()
			d.chunk(ctx, j)
		}(j)
	}
}

// Size returns the disk size.
func (d *DiskReader) Size() int64 { return d.m.size }

// Map returns the disk's chunk map.
func (d *DiskReader) Map() *DiskMap { return d.m }

// chunk returns the plaintext of chunk i (shared, read-only).
func (d *DiskReader) chunk(ctx context.Context, i int64) ([]byte, error) {
	id, err := d.m.Chunk(ctx, i)
	if err != nil {
		return nil, d.wrap(i, err)
	}
	if id.IsZero() {
		return zeros[:d.m.ChunkLen(i)], nil
	}
	b, err := d.repo.readBlob(ctx, id, d.m.chunkSize)
	if err != nil {
		return nil, d.wrap(i, err)
	}
	if len(b) != d.m.ChunkLen(i) {
		return nil, d.wrap(i, fmt.Errorf("chunk %s has %d bytes, want %d: %w", id, len(b), d.m.ChunkLen(i), ErrCorrupt))
	}
	return b, nil
}

func (d *DiskReader) wrap(i int64, err error) error {
	return &ReadError{Disk: d.point.DiskRef(d.disk.Name), Offset: i * int64(d.m.chunkSize), Err: err}
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
	cs := int64(d.m.chunkSize)
	for n < len(p) && off < d.m.size {
		i := off / cs
		if i != d.last.Load() {
			d.prefetch(i)
		}
		b, err := d.chunk(ctx, i)
		if err != nil {
			return n, err
		}
		c := copy(p[n:], b[off-i*cs:])
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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		b   []byte
		err error
	}
	const ahead = 8
	slots := make(chan chan result, ahead)
	go func() {
		defer close(slots)
		sem := make(chan struct{}, workers())
		for i := int64(0); i < d.m.chunks; i++ {
			ch := make(chan result, 1)
			select {
			case slots <- ch:
			case <-ctx.Done():
				return
			}
			sem <- struct{}{}
			go func(i int64) {
				defer func() { <-sem }()
				b, err := d.streamChunk(ctx, i)
				ch <- result{b, err}
			}(i)
		}
	}()
	var total int64
	for ch := range slots {
		r := <-ch
		if r.err != nil {
			return total, r.err
		}
		n, err := w.Write(r.b)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// streamChunk is chunk without the cache: a stream reads each chunk once.
func (d *DiskReader) streamChunk(ctx context.Context, i int64) ([]byte, error) {
	id, err := d.m.Chunk(ctx, i)
	if err != nil {
		return nil, d.wrap(i, err)
	}
	if id.IsZero() {
		return zeros[:d.m.ChunkLen(i)], nil
	}
	if b, ok := d.repo.cache.get(id); ok {
		return b, nil
	}
	b, err := d.repo.fetch(ctx, id, d.m.chunkSize)
	if err != nil {
		return nil, d.wrap(i, err)
	}
	if len(b) != d.m.ChunkLen(i) {
		return nil, d.wrap(i, fmt.Errorf("chunk %s has %d bytes, want %d: %w", id, len(b), d.m.ChunkLen(i), ErrCorrupt))
	}
	return b, nil
}
