package ingest

import (
	"context"
	"fmt"
	"sync"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest/image"
)

// fetcher reads the old extents a changed-areas ingest will likely need
// (those overlapping each area and the one after it) ahead of the
// rebuild, on several goroutines; the rebuild takes them in disk order
// and reads any other one itself. It reads the old chunks, or the disk
// itself when that is local.
type fetcher struct {
	read   func(ctx context.Context, x catalog.Extent) ([]byte, error)
	cancel context.CancelFunc
	sem    chan struct{} // one token per fetch not yet taken or dropped
	wg     sync.WaitGroup

	mu     sync.Mutex
	ahead  map[int64]*fetched // by extent offset; guarded by mu
	passed int64              // the rebuild is past this offset; guarded by mu
}

type fetched struct {
	done chan struct{}
	b    []byte
	err  error
}

func (p *pipeline) newFetcher(ctx context.Context, d DiskSpec, prev prevMap, areas []image.Extent, size int64) *fetcher {
	ctx, cancel := context.WithCancel(ctx)
	read := func(ctx context.Context, x catalog.Extent) ([]byte, error) {
		return p.repo.ReadChunk(ctx, x.ID, int(x.Len))
	}
	if d.Local {
		read = func(_ context.Context, x catalog.Extent) ([]byte, error) {
			b := make([]byte, x.Len)
			n, err := readFull(d.Disk, b, x.Off)
			p.read.Add(n)
			if err != nil {
				return nil, fmt.Errorf("disk %s at offset %d: %w", d.Name, x.Off, err)
			}
			return b, nil
		}
	}
	f := &fetcher{read: read, cancel: cancel, sem: make(chan struct{}, 2*p.opts.Workers+2), ahead: map[int64]*fetched{}}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		last := int64(-1)
		want := func(x catalog.Extent) error {
			if x.ID.IsZero() || x.Off <= last {
				return nil
			}
			last = x.Off
			return f.start(ctx, x)
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
	r := &fetched{done: make(chan struct{})}
	f.ahead[x.Off] = r
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		r.b, r.err = f.read(ctx, x)
		close(r.done)
	}()
	return nil
}

// get returns the plaintext of old extent x, dropping what was fetched
// for extents before it.
func (f *fetcher) get(ctx context.Context, x catalog.Extent) ([]byte, error) {
	f.mu.Lock()
	f.passed = x.Off
	r := f.ahead[x.Off]
	for off := range f.ahead {
		if off <= x.Off {
			delete(f.ahead, off)
			<-f.sem
		}
	}
	f.mu.Unlock()
	if r == nil {
		return f.read(ctx, x)
	}
	select {
	case <-r.done:
		return r.b, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (f *fetcher) stop() {
	f.cancel()
	f.wg.Wait()
}
