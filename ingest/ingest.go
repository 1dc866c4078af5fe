package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest/areas"
	"github.com/vmarchive/vmarchive/ingest/chunker"
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
	// Boundaries, sorted multiples of chunker.Block, are where a full
	// ingest ends a chunk besides where the content says: the edges of
	// large guest files' data (guestfs.FileBoundaries), so a file that
	// moved is stored again as the same chunks. A changed-areas ingest
	// ignores them.
	Boundaries []int64
	// BoundarySource, if set, gives the boundaries instead, a region at a
	// time in disk order (guestfs.Boundaries), so cutting starts before
	// every guest filesystem has been walked.
	BoundarySource BoundarySource
	// Local says reading any part of Disk costs less than fetching a
	// stored chunk (an image file, not a vCenter): a changed-areas ingest
	// then reads the extents it cuts again from Disk, not from the old
	// chunks.
	Local bool
}

// BoundarySource hands out a disk's boundaries (DiskSpec.Boundaries) in
// disk order.
type BoundarySource interface {
	// Next returns the boundaries in [from, to), sorted, with to > from.
	Next(ctx context.Context, from int64) (cuts []int64, to int64, err error)
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
	// Committing, if set, is called with a copy of the new point's
	// manifest once its chunks and maps are stored, just before the
	// commit makes them durable (which mostly waits for the disk): work
	// that reads the point's maps, such as building its file index, can
	// run meanwhile. The point does not exist until Ingest returns.
	Committing func(*catalog.Manifest)
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
	var cut *chunker.Cutter // nil: a format-1 repository (fixed.go)
	if repo.Config().Chunking != nil {
		if cut, err = cutter(repo); err != nil {
			return nil, err
		}
	}
	p := &pipeline{repo: repo, w: repo.NewWriter(), cut: cut, opts: opts, total: total}
	if p.opts.Workers <= 0 {
		p.opts.Workers = repo.StoreWorkers()
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
	if opts.Committing != nil {
		c := *m
		c.Disks, c.Config = slices.Clone(m.Disks), maps.Clone(m.Config)
		p.w.Stamp(&c)
		opts.Committing(&c)
	}
	if err := p.w.Commit(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
}

type pipeline struct {
	repo  *catalog.Repo
	w     *catalog.Writer
	cut   *chunker.Cutter
	opts  Options
	total int64
	done  int64 // bytes covered by finished disks
	read  atomic.Int64
}

func (p *pipeline) disk(ctx context.Context, m *catalog.Manifest, d DiskSpec) (*catalog.DiskRecord, error) {
	if p.cut == nil {
		return p.diskFixed(ctx, m, d)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	size := d.Disk.Size()
	rec := &catalog.DiskRecord{Name: d.Name, Size: size, Source: d.Source, Format: d.Format, ChangeID: d.ChangeID}
	readBefore := p.read.Load()

	for i, b := range d.Boundaries {
		if b%chunker.Block != 0 || (i > 0 && b <= d.Boundaries[i-1]) {
			return nil, fmt.Errorf("disk %s: boundary %d is not in order or not a multiple of %d", d.Name, b, chunker.Block)
		}
	}
	var prev *catalog.DiskMap
	var spans []image.Extent
	if d.Changed != nil {
		var err error
		if prev, err = p.previous(ctx, m.VM, d.Name, size); err != nil {
			return nil, err
		}
		spans = clip(areas.Merge(append([]image.Extent(nil), d.Changed...)), size)
	} else {
		alloc, err := d.Disk.Allocated()
		if err != nil {
			return nil, fmt.Errorf("allocated spans: %w", err)
		}
		spans = blockSpans(areas.Merge(append([]image.Extent(nil), alloc...)), size)
	}
	mb := newMapBuilder(p.w, size)
	e := p.newEmitter(ctx, cancel, mb, rec)
	var err error
	if prev != nil {
		err = p.changed(ctx, d, prev, spans, e)
	} else {
		err = p.full(ctx, d, spans, e)
	}
	if err != nil {
		cancel() // the emitter's error, if any, says more
	}
	if ferr := e.finish(); ferr != nil && (err == nil || errors.Is(err, context.Canceled)) {
		err = ferr
	}
	if err != nil {
		return nil, err
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

// clip drops what lies past size from sorted, merged areas.
func clip(a []image.Extent, size int64) []image.Extent {
	out := a[:0]
	for _, e := range a {
		if e.Off < size && e.Len > 0 {
			e.Len = min(e.Len, size-e.Off)
			out = append(out, e)
		}
	}
	return out
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
