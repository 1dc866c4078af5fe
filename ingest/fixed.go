package ingest

// The format-1 pipeline: fixed-size chunks at fixed disk offsets, for
// repositories made before format 2 (init makes format 1 until format 2 is
// switched on). It goes when format-1 repositories take no new points.

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest/areas"
	"github.com/vmarchive/vmarchive/ingest/image"
)

type result struct {
	first int64
	ids   []catalog.ChunkID // nil: count zero chunks
	count int64
	reuse bool
	add   catalog.AddResult
	err   error
}

func (p *pipeline) diskFixed(ctx context.Context, m *catalog.Manifest, d DiskSpec) (*catalog.DiskRecord, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs := int64(p.repo.Config().ChunkSize)
	size := d.Disk.Size()
	rec := &catalog.DiskRecord{Name: d.Name, Size: size, Source: d.Source, Format: d.Format, ChangeID: d.ChangeID}
	rec.Stats.Chunks = (size + cs - 1) / cs
	readBefore := p.read.Load()

	var spans []image.Extent
	var prev *catalog.DiskMap
	if d.Changed != nil {
		var err error
		if prev, err = p.previous(ctx, m.VM, d.Name, size); err != nil {
			return nil, err
		}
		spans = areas.Merge(append([]image.Extent(nil), d.Changed...))
	} else {
		alloc, err := d.Disk.Allocated()
		if err != nil {
			return nil, fmt.Errorf("allocated spans: %w", err)
		}
		spans = areas.Merge(append([]image.Extent(nil), alloc...))
	}

	jobs := make(chan int64, p.opts.Workers*2)
	results := make(chan result, p.opts.Workers*4)
	var wg sync.WaitGroup
	for i := 0; i < p.opts.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.worker(ctx, d, cs, prev, spans, jobs, results)
		}()
	}
	go func() {
		err := p.produce(ctx, spans, prev, rec.Stats.Chunks, cs, jobs, results)
		close(jobs)
		if err != nil {
			results <- result{err: err}
		}
		wg.Wait()
		close(results)
	}()

	mb := p.w.NewMapBuilder(size)
	var firstErr error
	covered := int64(0)
	lastReport := time.Time{}
	for r := range results {
		if firstErr != nil {
			continue // drain
		}
		if r.err != nil {
			firstErr = r.err
			cancel()
			continue
		}
		if err := p.collect(ctx, mb, rec, r, cs, size); err != nil {
			firstErr = err
			cancel()
			continue
		}
		covered += min(r.count*cs, size-r.first*cs)
		if p.opts.Progress != nil && time.Since(lastReport) > 200*time.Millisecond {
			lastReport = time.Now()
			p.opts.Progress(Progress{Done: p.done + covered, Total: p.total, Read: p.read.Load()})
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	root, err := mb.Finish(ctx)
	if err != nil {
		return nil, err
	}
	rec.Map = root
	rec.Stats.ReadBytes = p.read.Load() - readBefore
	p.done += size
	if p.opts.Progress != nil {
		p.opts.Progress(Progress{Done: p.done, Total: p.total, Read: p.read.Load()})
	}
	return rec, nil
}

func (p *pipeline) collect(ctx context.Context, mb *catalog.MapBuilder, rec *catalog.DiskRecord, r result, cs, size int64) error {
	for k := int64(0); k < r.count; k++ {
		var id catalog.ChunkID
		if r.ids != nil {
			id = r.ids[k]
		}
		if id.IsZero() {
			rec.Stats.ZeroChunks++
		}
		if err := mb.Set(ctx, r.first+k, id); err != nil {
			return err
		}
	}
	if r.reuse {
		for k := int64(0); k < r.count; k++ {
			rec.Stats.ReusedBytes += min(cs, size-(r.first+k)*cs)
		}
	}
	if r.add.New {
		rec.Stats.NewChunks++
		rec.Stats.NewBytes += int64(r.add.Stored)
	}
	return nil
}

// produce walks the chunks in order: chunks touching areas go to the
// workers, the others are zero (full ingest) or reused from prev.
func (p *pipeline) produce(ctx context.Context, areas []image.Extent, prev *catalog.DiskMap, chunks, cs int64, jobs chan<- int64, results chan<- result) error {
	next := int64(0) // first chunk not yet handled
	skip := func(end int64) error {
		for next < end {
			n := min(end-next, 1024)
			r := result{first: next, count: n}
			if prev != nil {
				r.ids, r.reuse = make([]catalog.ChunkID, n), true
				for k := range r.ids {
					id, err := prev.Chunk(ctx, next+int64(k))
					if err != nil {
						return fmt.Errorf("previous point, chunk %d: %w", next+int64(k), err)
					}
					r.ids[k] = id
				}
			}
			select {
			case results <- r:
			case <-ctx.Done():
				return ctx.Err()
			}
			next += n
		}
		return nil
	}
	for _, a := range areas {
		first, last := a.Off/cs, (a.Off+a.Len-1)/cs
		if first < next {
			first = next
		}
		if err := skip(first); err != nil {
			return err
		}
		for ; next <= last && next < chunks; next++ {
			select {
			case jobs <- next:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return skip(chunks)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, catalog.MaxChunkSize); return &b }}

func (p *pipeline) worker(ctx context.Context, d DiskSpec, cs int64, prev *catalog.DiskMap, areas []image.Extent, jobs <-chan int64, results chan<- result) {
	enc := catalog.NewEncoder()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	size := d.Disk.Size()
	for i := range jobs {
		off := i * cs
		buf := (*bp)[:min(cs, size-off)]
		r := result{first: i, count: 1, ids: make([]catalog.ChunkID, 1)}
		var n int64
		var err error
		repair := false
		if prev != nil {
			n, repair, err = p.patchChunk(ctx, d.Disk, prev, areas, i, off, buf)
		} else {
			n, err = readFull(d.Disk, buf, off)
		}
		switch {
		case err != nil:
			r.err = err
		case repair:
			p.read.Add(n)
			r.add, r.err = p.w.AddRepair(ctx, enc, buf)
		default:
			p.read.Add(n)
			r.add, r.err = p.w.Add(ctx, enc, buf)
		}
		r.ids[0] = r.add.ID
		select {
		case results <- r:
		case <-ctx.Done():
			return
		}
		if r.err != nil {
			return
		}
	}
}

// patchChunk builds chunk i of a changed-areas ingest: the previous
// point's chunk with only the changed bytes read from the source, so the
// source (a vSphere host over HTTP) sends just what changed. If the old
// chunk cannot be read, the whole chunk is read from the source instead,
// and repair says to store it even if the catalog knows it.
func (p *pipeline) patchChunk(ctx context.Context, src io.ReaderAt, prev *catalog.DiskMap, areas []image.Extent, i, off int64, buf []byte) (n int64, repair bool, err error) {
	old, err := prev.Chunk(ctx, i)
	if err == nil {
		if old.IsZero() {
			clear(buf)
		} else {
			var b []byte
			if b, err = p.repo.ReadChunk(ctx, old, len(buf)); err == nil && len(b) == len(buf) {
				copy(buf, b)
			} else if err == nil {
				err = fmt.Errorf("chunk %s has %d bytes, want %d", old, len(b), len(buf))
			}
		}
	}
	if err != nil {
		n, err := readFull(src, buf, off)
		return n, true, err
	}
	end := off + int64(len(buf))
	k := sort.Search(len(areas), func(k int) bool { return areas[k].Off+areas[k].Len > off })
	read := int64(0)
	for ; k < len(areas) && areas[k].Off < end; k++ {
		a, b := max(areas[k].Off, off), min(areas[k].Off+areas[k].Len, end)
		n, err := readFull(src, buf[a-off:b-off], a)
		read += n
		if err != nil {
			return read, false, err
		}
	}
	return read, false, nil
}

// chunkPlan is what a format-1 full read asks for: every chunk of cs bytes
// that touches the allocated areas, within a disk of size bytes.
func chunkPlan(alloc []image.Extent, cs, size int64) []image.Extent {
	out := make([]image.Extent, 0, len(alloc))
	for _, e := range alloc {
		if e.Len <= 0 {
			continue
		}
		lo := e.Off / cs * cs
		hi := min((e.Off+e.Len+cs-1)/cs*cs, size)
		if lo < hi {
			out = append(out, image.Extent{Off: lo, Len: hi - lo})
		}
	}
	return areas.Merge(out)
}
