package ingest

import (
	"context"
	"math"
	"sync"
	"sync/atomic"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest/areas"
	"github.com/vmarchive/vmarchive/ingest/chunker"
	"github.com/vmarchive/vmarchive/ingest/image"
)

// segment is a run of allocated disk bytes read and marked by a worker.
type segment struct {
	off   int64
	buf   []byte
	marks []chunker.Mark
	done  chan struct{} // closed when buf, marks and err are set
	err   error
	refs  atomic.Int32 // the cutter's, plus one per chunk still using buf
	pool  chan []byte
}

func (s *segment) ref() { s.refs.Add(1) }
func (s *segment) unref() {
	if s.refs.Add(-1) == 0 {
		s.pool <- s.buf[:0]
	}
}

// segPool keeps segment buffers from one disk to the next.
var segPool = sync.Pool{New: func() any { return new([]byte) }}

// segmentSize is the most bytes one worker reads and marks at once.
func segmentSize(c *chunker.Cutter) int64 {
	return max(8<<20, 2*int64(c.Params().Max))
}

// full cuts every allocated byte of d; what lies outside the allocated
// spans is zeros (holes) without being read.
func (p *pipeline) full(ctx context.Context, d DiskSpec, spans []image.Extent, e *emitter) error {
	size := d.Disk.Size()
	segSize := segmentSize(p.cut)
	nbuf := p.opts.Workers + 3
	pool := make(chan []byte, nbuf)
	for range nbuf {
		pool <- nil
	}
	jobs := make(chan *segment, p.opts.Workers)
	segs := make(chan *segment, nbuf)
	var wg sync.WaitGroup
	for range p.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range jobs {
				n, err := readFull(d.Disk, s.buf, s.off)
				p.read.Add(n)
				s.err = err
				if err == nil {
					s.marks = p.cut.Marks(s.marks[:0], s.buf)
				}
				close(s.done)
			}
		}()
	}
	pctx, stop := context.WithCancel(ctx)
	defer func() {
		stop()
		for s := range segs { // wait for the workers' reads
			<-s.done
		}
		wg.Wait()
		// Buffers still out belong to chunks being stored; they go to
		// the garbage collector.
		for len(pool) > 0 {
			if b := <-pool; b != nil {
				segPool.Put(&b)
			}
		}
	}()
	go func() {
		defer close(segs)
		defer close(jobs)
		p.produceSegments(pctx, spans, size, segSize, pool, jobs, segs)
	}()
	c := cutState{p: p, e: e, sel: p.cut.NewSelector(0), bounds: d.Boundaries, boundsTo: math.MaxInt64}
	if d.BoundarySource != nil {
		c.bounds, c.boundsTo, c.src = nil, 0, d.BoundarySource
	}
	for s := range segs {
		select {
		case <-s.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if s.err != nil {
			return s.err
		}
		if err := c.segment(ctx, s); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err // the producer may have stopped early
	}
	return c.end(ctx, size)
}

// produceSegments queues the allocated spans, cut into segments, for the
// workers (reading) and, in the same order, for the cutter.
func (p *pipeline) produceSegments(ctx context.Context, spans []image.Extent, size, segSize int64, pool chan []byte, jobs, segs chan<- *segment) {
	for _, sp := range spans {
		for off := sp.Off; off < sp.Off+sp.Len; {
			n := min(segSize-off%segSize, sp.Off+sp.Len-off)
			var buf []byte
			select {
			case buf = <-pool:
			case <-ctx.Done():
				return
			}
			if buf == nil {
				if bp := segPool.Get().(*[]byte); cap(*bp) >= int(segSize) {
					buf = *bp
				} else {
					buf = make([]byte, 0, segSize)
				}
			}
			s := &segment{off: off, buf: buf[:n], done: make(chan struct{}), pool: pool}
			s.refs.Store(1)
			select {
			case segs <- s:
			case <-ctx.Done():
				pool <- buf
				return
			}
			select {
			case jobs <- s:
			case <-ctx.Done():
				s.err = ctx.Err()
				close(s.done)
				return
			}
			off += n
		}
	}
}

// blockSpans rounds spans out to whole blocks (within size) and merges
// them: the cutter reads and marks whole blocks.
func blockSpans(spans []image.Extent, size int64) []image.Extent {
	out := make([]image.Extent, 0, len(spans))
	for _, s := range spans {
		lo := s.Off / chunker.Block * chunker.Block
		hi := min((s.Off+s.Len+chunker.Block-1)/chunker.Block*chunker.Block, size)
		if s.Len <= 0 || lo >= hi {
			continue
		}
		if n := len(out); n > 0 && lo <= out[n-1].Off+out[n-1].Len {
			out[n-1].Len = max(out[n-1].Len, hi-out[n-1].Off)
			continue
		}
		out = append(out, image.Extent{Off: lo, Len: hi - lo})
	}
	return out
}

// ReadPlan is what a full ingest of a disk of size bytes reads, given its
// allocated spans: whole blocks, in reads of at most unit bytes, so a
// source that fetches ahead (vSphere) can fetch exactly that.
func ReadPlan(repo *catalog.Repo, alloc []image.Extent, size int64) (plan []image.Extent, unit int64, err error) {
	if cs := int64(repo.Config().ChunkSize); repo.Config().Chunking == nil {
		return chunkPlan(alloc, cs, size), cs, nil // format 1: whole chunks
	}
	c, err := cutter(repo)
	if err != nil {
		return nil, 0, err
	}
	return blockSpans(areas.Merge(append([]image.Extent(nil), alloc...)), size), segmentSize(c), nil
}
