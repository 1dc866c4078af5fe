package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest/areas"
	"github.com/vmarchive/vmarchive/ingest/image"
)

// Disk is what the pipeline reads. image.Disk satisfies it.
type Disk interface {
	io.ReaderAt
	Size() int64
	// Allocated returns the ranges that may hold non-zero data.
	Allocated() ([]image.Extent, error)
}

// DiskSpec is one disk to capture.
type DiskSpec struct {
	Name   string
	Disk   Disk
	Source string // shown in the manifest: a path or a datastore URL
	Format string
	// Changed, when not nil, lists the only areas that may differ from the
	// VM's previous point of this disk; every other chunk is taken from it.
	Changed  []image.Extent
	ChangeID string
}

// Options describe one ingest.
type Options struct {
	VM         string
	Time       time.Time // capture time; zero means now
	Workers    int       // default: every core
	SourceKind string    // "image", "vsphere"
	Config     map[string][]byte
	// Progress, if set, is called from one goroutine as work is done.
	Progress func(Progress)
}

// Progress counts bytes of disk covered (read, zero or reused) so far.
type Progress struct {
	Done, Total int64
	Read        int64 // bytes actually read from the sources
}

// Ingest captures disks as a new point of opts.VM and commits it. When ctx
// ends first (SIGTERM, Ctrl-C) it stops promptly and says so; no point is
// made.
func Ingest(ctx context.Context, repo *catalog.Repo, opts Options, disks []DiskSpec) (m *catalog.Manifest, err error) {
	defer func() {
		if err != nil && ctx.Err() != nil {
			m, err = nil, fmt.Errorf("ingest of %s interrupted, no point was created: %w", opts.VM, err)
		}
	}()
	if err := catalog.ValidName("VM", opts.VM); err != nil {
		return nil, err
	}
	if opts.Time.IsZero() {
		opts.Time = time.Now()
	} else if err := catalog.CheckPointTime(opts.Time, time.Now()); err != nil {
		return nil, err
	}
	m = &catalog.Manifest{VM: opts.VM, Time: opts.Time.UTC().Truncate(time.Second), Source: opts.SourceKind}
	if _, err := repo.Point(m.VM, m.Name()); err == nil {
		return nil, fmt.Errorf("point %s/%s: %w", m.VM, m.Name(), catalog.ErrExists)
	} else if !errors.Is(err, catalog.ErrNotFound) {
		return nil, err
	}
	if len(disks) == 0 {
		return nil, fmt.Errorf("ingest %s: no disks given", opts.VM)
	}
	seen := map[string]bool{}
	var total int64
	for _, d := range disks {
		if err := catalog.ValidDiskName(d.Name); err != nil {
			return nil, err
		}
		// Names differing in case only would collide where the tree is
		// copied to a case-insensitive filesystem.
		if seen[strings.ToLower(d.Name)] {
			return nil, fmt.Errorf("disk %q given twice (names are compared ignoring case)", d.Name)
		}
		seen[strings.ToLower(d.Name)] = true
		if d.Disk.Size() < 0 || d.Disk.Size() > catalog.MaxDiskSize {
			return nil, fmt.Errorf("disk %s: size %d out of range", d.Name, d.Disk.Size())
		}
		total += d.Disk.Size()
	}
	p := &pipeline{repo: repo, w: repo.NewWriter(), opts: opts, total: total}
	if p.opts.Workers <= 0 {
		p.opts.Workers = runtime.GOMAXPROCS(0)
	}
	for _, d := range disks {
		rec, err := p.disk(ctx, m, d)
		if err != nil {
			return nil, fmt.Errorf("ingest %s disk %s: %w", opts.VM, d.Name, err)
		}
		m.Disks = append(m.Disks, *rec)
	}
	if len(opts.Config) > 0 {
		m.Config = map[string]catalog.ConfigFile{}
		for name, data := range opts.Config {
			id, err := p.w.AddBlob(ctx, data)
			if err != nil {
				return nil, fmt.Errorf("store config %s: %w", name, err)
			}
			m.Config[name] = catalog.ConfigFile{ID: id, Size: int64(len(data))}
		}
	}
	m.Created = time.Now().UTC()
	if err := p.w.Commit(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
}

type pipeline struct {
	repo  *catalog.Repo
	w     *catalog.Writer
	opts  Options
	total int64
	done  int64 // bytes covered by finished disks
	read  atomic.Int64
}

// result is what happened to a run of chunks.
type result struct {
	first int64
	ids   []catalog.ChunkID // nil: count zero chunks
	count int64
	reuse bool
	add   catalog.AddResult
	err   error
}

func (p *pipeline) disk(ctx context.Context, m *catalog.Manifest, d DiskSpec) (*catalog.DiskRecord, error) {
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

// readFull reads len(buf) bytes at off; io.EOF exactly at the end is fine.
func readFull(r io.ReaderAt, buf []byte, off int64) (int64, error) {
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return int64(n), nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return int64(n), fmt.Errorf("read at offset %d: %w", off, err)
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

// previous returns the map of disk in the VM's newest point, which a
// changed-areas ingest takes its unchanged chunks from.
func (p *pipeline) previous(ctx context.Context, vm, disk string, size int64) (*catalog.DiskMap, error) {
	last, err := p.repo.Point(vm, catalog.Latest)
	if err != nil {
		return nil, fmt.Errorf("a changed-areas list needs an earlier point of the disk: %w", err)
	}
	d, err := last.Disk(disk)
	if err != nil {
		return nil, fmt.Errorf("a changed-areas list needs an earlier point of the disk: %w", err)
	}
	if d.Size != size {
		return nil, fmt.Errorf("disk was %d bytes in point %s and is %d now: a changed-areas list cannot describe a resize, ingest it in full", d.Size, last.Name(), size)
	}
	return p.repo.OpenDiskMap(ctx, last, d)
}
