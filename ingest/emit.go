package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// piece is one extent of the new map on its way there: a hole, an extent
// of the previous point kept as it is, or a chunk being stored.
type piece struct {
	ext    catalog.Extent // ID set for holes (zero) and kept extents
	data   []byte         // the chunk to store; nil for holes and kept extents
	repair bool           // store data even if the catalog knows it
	kept   bool           // taken from the previous point without reading
	free   func()         // called once data is no longer needed

	done chan struct{} // closed when add and err are set (data != nil)
	add  catalog.AddResult
	err  error
}

// emitter stores chunks on every worker and appends the extents to the
// map in disk order, keeping the disk's stats and reporting progress.
type emitter struct {
	p     *pipeline
	mb    mapBuilder
	rec   *catalog.DiskRecord
	order chan *piece
	work  chan *piece
	adds  sync.WaitGroup
	res   chan error // the appender's outcome

	covered    int64 // bytes appended; appender only
	lastReport time.Time
}

// mapBuilder is what the emitter needs of catalog.MapBuilder.
type mapBuilder interface {
	Append(ctx context.Context, e catalog.Extent) error
}

func (p *pipeline) newEmitter(ctx context.Context, cancel context.CancelFunc, mb mapBuilder, rec *catalog.DiskRecord) *emitter {
	e := &emitter{p: p, mb: mb, rec: rec, order: make(chan *piece, 256), work: make(chan *piece, p.opts.Workers), res: make(chan error, 1)}
	for range p.opts.Workers {
		e.adds.Add(1)
		go e.adder(ctx)
	}
	go func() {
		err := e.appender(ctx)
		if err != nil {
			cancel()
		}
		e.res <- err
	}()
	return e
}

func (e *emitter) adder(ctx context.Context) {
	defer e.adds.Done()
	enc := catalog.NewEncoder()
	for pc := range e.work {
		switch {
		case ctx.Err() != nil:
			pc.err = ctx.Err()
		case pc.repair:
			pc.add, pc.err = e.p.w.AddRepair(ctx, enc, pc.data)
		default:
			pc.add, pc.err = e.p.w.Add(ctx, enc, pc.data)
		}
		pc.data = nil
		if pc.free != nil {
			pc.free()
		}
		close(pc.done)
	}
}

// put hands on the next piece in disk order. After an error (of put or of
// the appender) the caller stops and calls finish.
func (e *emitter) put(ctx context.Context, pc *piece) error {
	if pc.data != nil {
		pc.done = make(chan struct{})
		select {
		case e.work <- pc:
		case <-ctx.Done():
			if pc.free != nil {
				pc.free()
			}
			return ctx.Err()
		}
	}
	select {
	case e.order <- pc:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// finish waits for every piece put and returns the first error.
func (e *emitter) finish() error {
	close(e.work)
	close(e.order)
	e.adds.Wait()
	return <-e.res
}

func (e *emitter) appender(ctx context.Context) error {
	var first error
	for pc := range e.order {
		if pc.done != nil {
			<-pc.done
		}
		if first != nil {
			continue // drain
		}
		if first = pc.err; first != nil {
			continue
		}
		first = e.append(ctx, pc)
	}
	return first
}

func (e *emitter) append(ctx context.Context, pc *piece) error {
	x := pc.ext
	if pc.done != nil {
		x.ID = pc.add.ID
	}
	if err := e.mb.Append(ctx, x); err != nil {
		return err
	}
	s := &e.rec.Stats
	if x.ID.IsZero() {
		s.ZeroChunks++
	} else {
		s.Chunks++
	}
	if pc.kept {
		s.ReusedBytes += x.Len
	}
	if pc.add.New {
		s.NewChunks++
		s.NewBytes += int64(pc.add.Stored)
	}
	e.covered += x.Len
	p := e.p
	if p.opts.Progress != nil && time.Since(e.lastReport) > 200*time.Millisecond {
		e.lastReport = time.Now()
		p.opts.Progress(Progress{Done: p.done + e.covered, Total: p.total, Read: p.read.Load()})
	}
	return nil
}
