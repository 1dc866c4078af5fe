package ingest

import (
	"context"
	"fmt"
	"sync"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest/chunker"
	"github.com/vmarchive/vmarchive/ingest/image"
)

// fetcher reads the old extents a changed-areas ingest will likely need
// (those overlapping each area and the one after it) ahead of the
// rebuild, on several goroutines; the rebuild takes them in disk order
// and reads any other one itself. It reads the old chunks, or the disk
// itself when that is local: then extents next to each other are read
// as one window, whose slices the rebuild joins without copying.
type fetcher struct {
	read   func(ctx context.Context, x catalog.Extent) ([]byte, error)
	local  func(ctx context.Context, off, n int64) ([]byte, []chunker.Mark, error) // nil: not local
	cancel context.CancelFunc
	sem    chan struct{} // one token per read with extents not yet taken or dropped
	wg     sync.WaitGroup

	mu     sync.Mutex
	ahead  map[int64]*fetched // by extent offset; guarded by mu
	passed int64              // the rebuild is past this offset; guarded by mu
}

// fetched is one extent being read ahead: bytes [lo, lo+n) of a read.
type fetched struct {
	r     *fetchRead
	lo, n int64
}

// fetchRead is one read: of an old chunk, or of a window of a local disk.
type fetchRead struct {
	done  chan struct{}
	b     []byte
	marks []chunker.Mark // of b's blocks (local windows only)
	err   error
	left  int // extents of it not yet taken or dropped; guarded by fetcher.mu
}

// maxWindow bounds one read of a local disk; markPiece is what is read
// and marked at a time.
const (
	maxWindow = 8 << 20
	markPiece = 256 << 10
)

func (p *pipeline) newFetcher(ctx context.Context, d DiskSpec, prev prevMap, areas []image.Extent, size int64) *fetcher {
	ctx, cancel := context.WithCancel(ctx)
	read := func(ctx context.Context, x catalog.Extent) ([]byte, error) {
		return p.repo.ReadChunk(ctx, x.ID, int(x.Len))
	}
	f := &fetcher{read: read, cancel: cancel, sem: make(chan struct{}, 2*p.opts.Workers+2), ahead: map[int64]*fetched{}}
	if d.Local {
		f.local = func(_ context.Context, off, n int64) ([]byte, []chunker.Mark, error) {
			b := make([]byte, n)
			marks := make([]chunker.Mark, 0, (n+chunker.Block-1)/chunker.Block)
			// Marked piece by piece while the bytes are still in cache.
			for lo := int64(0); lo < n; lo += markPiece {
				hi := min(lo+markPiece, n)
				got, err := readFull(d.Disk, b[lo:hi], off+lo)
				p.read.Add(got)
				if err != nil {
					return nil, nil, fmt.Errorf("disk %s at offset %d: %w", d.Name, off+lo, err)
				}
				marks = p.cut.Marks(marks, b[lo:hi])
			}
			return b, marks, nil
		}
		f.read = func(ctx context.Context, x catalog.Extent) ([]byte, error) {
			b, _, err := f.local(ctx, x.Off, x.Len)
			return b, err
		}
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		last := int64(-1)
		var run []catalog.Extent // local: extents in a row, not yet started
		defer func() { _ = f.startRun(ctx, run) }()
		want := func(x catalog.Extent) error {
			if x.ID.IsZero() || x.Off <= last {
				return nil
			}
			last = x.Off
			if f.local == nil {
				return f.start(ctx, x)
			}
			if n := len(run); n > 0 && (run[n-1].End() != x.Off || x.End()-run[0].Off > maxWindow) {
				if err := f.startRun(ctx, run); err != nil {
					return err
				}
				run = run[:0]
			}
			run = append(run, x)
			return nil
		}
		for _, a := range areas {
			end := min(a.Off+a.Len, size)
			if prev.Extents(ctx, a.Off, end, want) != nil {
				return
			}
			if end < size {
				if x, err := prev.Lookup(ctx, end); err != nil || want(x) != nil {
					return
				}
			}
		}
	}()
	return f
}

func (f *fetcher) start(ctx context.Context, x catalog.Extent) error {
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	f.mu.Lock()
	if x.Off <= f.passed {
		f.mu.Unlock()
		<-f.sem
		return nil
	}
	r := &fetchRead{done: make(chan struct{}), left: 1}
	f.ahead[x.Off] = &fetched{r: r, n: x.Len}
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		r.b, r.err = f.read(ctx, x)
		close(r.done)
	}()
	return nil
}

// startRun reads the extents of run, next to each other on a local disk,
// as one window, but those the rebuild has passed (it read them itself).
func (f *fetcher) startRun(ctx context.Context, run []catalog.Extent) error {
	if len(run) == 0 {
		return nil
	}
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	f.mu.Lock()
	for len(run) > 0 && run[0].Off <= f.passed {
		run = run[1:]
	}
	if len(run) == 0 {
		f.mu.Unlock()
		<-f.sem
		return nil
	}
	r := &fetchRead{done: make(chan struct{}), left: len(run)}
	off, end := run[0].Off, run[len(run)-1].End()
	for _, x := range run {
		f.ahead[x.Off] = &fetched{r: r, lo: x.Off - off, n: x.Len}
	}
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		r.b, r.marks, r.err = f.local(ctx, off, end-off)
		close(r.done)
	}()
	return nil
}

// get returns the plaintext of old extent x, dropping what was fetched
// for extents before it. Read from a local window, its capacity runs on
// to the window's end (the next extent's bytes may follow it in memory)
// and its blocks' marks come with it; else marks is nil.
func (f *fetcher) get(ctx context.Context, x catalog.Extent) (b []byte, marks []chunker.Mark, err error) {
	f.mu.Lock()
	f.passed = x.Off
	r := f.ahead[x.Off]
	for off, e := range f.ahead {
		if off <= x.Off {
			delete(f.ahead, off)
			if e.r.left--; e.r.left == 0 {
				<-f.sem
			}
		}
	}
	f.mu.Unlock()
	if r == nil {
		b, err = f.read(ctx, x)
		return b, nil, err
	}
	select {
	case <-r.r.done:
		if r.r.err != nil {
			return nil, nil, r.r.err
		}
		if r.r.marks != nil {
			marks = r.r.marks[r.lo/chunker.Block : (r.lo+r.n+chunker.Block-1)/chunker.Block]
		}
		return r.r.b[r.lo : r.lo+r.n], marks, nil
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

func (f *fetcher) stop() {
	f.cancel()
	f.wg.Wait()
}
