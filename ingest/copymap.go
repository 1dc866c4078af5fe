package ingest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// sameChunks reports whether dst names and cuts chunks as p's maps do, so
// p can be copied map by map: the same chunking (format 2) or chunk size
// (format 1), and the same chunk ids (SameChunkIDs).
func sameChunks(src, dst *catalog.Repo, p *catalog.Manifest) bool {
	cfg := dst.Config()
	switch {
	case !src.SameChunkIDs(dst):
		return false
	case p.Chunking != nil && cfg.Chunking != nil:
		return *p.Chunking == *cfg.Chunking
	case p.Chunking == nil && cfg.Chunking == nil:
		return p.ChunkSize == cfg.ChunkSize
	}
	return false
}

// extent is one piece of a source map (catalog.Extent).
type extent = catalog.Extent

// forExtents calls fn for every extent of m in disk order.
func forExtents(ctx context.Context, m *catalog.DiskMap, fn func(extent) error) error {
	return m.Extents(ctx, 0, m.Size(), fn)
}

// appendExtent puts e into the map being built: format 2 takes extents,
// format 1 chunk indexes of the fixed size cs.
func appendExtent(ctx context.Context, mb *catalog.MapBuilder, cs int64, e extent) error {
	if cs == 0 {
		return mb.Append(ctx, e)
	}
	return mb.Set(ctx, e.Off/cs, e.ID)
}

// mapCopy copies p map by map: chunks the destination knows are taken
// without reading them; the others are read (verified) and stored.
func (c *copier) mapCopy(ctx context.Context, p *catalog.Manifest, config map[string][]byte, cp *CopiedPoint) (*catalog.Manifest, error) {
	w := c.dst.NewWriter()
	m := &catalog.Manifest{VM: p.VM, Time: p.Time, Source: p.Source}
	c.diskBase = 0
	for i := range p.Disks {
		rec, err := c.mapDisk(ctx, w, p, &p.Disks[i], cp)
		c.diskBase += p.Disks[i].Size
		if err != nil {
			return nil, fmt.Errorf("disk %s: %w", p.Disks[i].Name, err)
		}
		m.Disks = append(m.Disks, *rec)
		cp.BytesRead += rec.Stats.ReadBytes
	}
	if len(config) > 0 {
		m.Config = map[string]catalog.ConfigFile{}
		for name, b := range config {
			id, err := w.AddBlob(ctx, b)
			if err != nil {
				return nil, fmt.Errorf("store config %q: %w", name, err)
			}
			m.Config[name] = catalog.ConfigFile{ID: id, Size: int64(len(b))}
		}
	}
	m.Created = time.Now().UTC()
	if err := w.Commit(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
}

// moved is what happened to one extent: taken as known, or read and stored.
type moved struct {
	e     extent
	known bool // the destination has it: not read
	add   catalog.AddResult
	err   error
}

var encoders = sync.Pool{New: func() any { return catalog.NewEncoder() }}

func (c *copier) mapDisk(ctx context.Context, w *catalog.Writer, p *catalog.Manifest, d *catalog.DiskRecord, cp *CopiedPoint) (*catalog.DiskRecord, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sm, err := c.src.OpenDiskMap(ctx, p, d)
	if err != nil {
		return nil, err
	}
	rec := &catalog.DiskRecord{Name: d.Name, Size: d.Size, Source: d.Source, Format: d.Format, ChangeID: d.ChangeID}
	slots := make(chan chan moved, 4*c.opts.Workers)
	var prodErr error
	go func() {
		defer close(slots)
		prodErr = c.produceMoves(ctx, w, sm, slots)
	}()
	mb := w.NewMapBuilder(d.Size)
	cs := int64(0) // format 2: extents
	if cfg := c.dst.Config(); cfg.Chunking == nil {
		cs = int64(cfg.ChunkSize) // format 1: chunk indexes
	}
	var first error
	for slot := range slots {
		mv := <-slot
		if first != nil {
			continue // drain
		}
		if first = mv.err; first == nil {
			first = c.account(ctx, mb, cs, rec, mv)
		}
		if first != nil {
			cancel()
		}
	}
	if first == nil {
		first = prodErr
	}
	if first != nil {
		return nil, first
	}
	root, err := mb.Finish(ctx)
	if err != nil {
		return nil, err
	}
	rec.Map = root
	return rec, nil
}

// account adds one extent to the map and the statistics.
func (c *copier) account(ctx context.Context, mb *catalog.MapBuilder, cs int64, rec *catalog.DiskRecord, mv moved) error {
	e := mv.e
	rec.Stats.Chunks++
	switch {
	case e.ID.IsZero():
		rec.Stats.ZeroChunks++
	case mv.known:
		rec.Stats.ReusedBytes += e.Len
	case mv.add.Zero: // stored by an older build, perhaps: a hole here
		rec.Stats.ZeroChunks++
		rec.Stats.ReadBytes += e.Len
		e.ID = catalog.ZeroID
	default:
		if mv.add.ID != e.ID {
			return fmt.Errorf("chunk at offset %d: stored as %s, the source names it %s", e.Off, mv.add.ID, e.ID)
		}
		rec.Stats.ReadBytes += e.Len
		c.prog.Sent += int64(mv.add.Stored)
		if mv.add.New {
			rec.Stats.NewChunks++
			rec.Stats.NewBytes += int64(mv.add.Stored)
		}
	}
	c.prog.Done = c.base + c.diskBase + e.Off + e.Len
	c.report(false)
	return appendExtent(ctx, mb, cs, e)
}

// produceMoves walks the source map in order and hands one slot per
// extent to the consumer; chunks the destination lacks are read and
// stored on up to Workers goroutines meanwhile.
func (c *copier) produceMoves(ctx context.Context, w *catalog.Writer, sm *catalog.DiskMap, slots chan<- chan moved) error {
	sem := make(chan struct{}, c.opts.Workers)
	return forExtents(ctx, sm, func(e extent) error {
		slot := make(chan moved, 1)
		select {
		case slots <- slot:
		case <-ctx.Done():
			return ctx.Err()
		}
		if e.ID.IsZero() {
			slot <- moved{e: e}
			return nil
		}
		known, err := w.Known(ctx, e.ID)
		if err != nil || known {
			slot <- moved{e: e, known: known, err: err}
			return nil
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			slot <- moved{e: e, err: ctx.Err()}
			return ctx.Err()
		}
		go func() {
			defer func() { <-sem }()
			slot <- c.move(ctx, w, e)
		}()
		return nil
	})
}

// move reads one chunk from the source (its hash checked by the fetch)
// and stores it in the destination.
func (c *copier) move(ctx context.Context, w *catalog.Writer, e extent) moved {
	b, err := c.src.ReadChunk(ctx, e.ID, int(e.Len))
	if err == nil && int64(len(b)) != e.Len {
		err = fmt.Errorf("chunk %s has %d bytes, the map says %d: %w", e.ID, len(b), e.Len, catalog.ErrCorrupt)
	}
	if err != nil {
		return moved{e: e, err: fmt.Errorf("source chunk at offset %d: %w", e.Off, err)}
	}
	enc := encoders.Get().(*catalog.Encoder)
	defer encoders.Put(enc)
	add, err := w.Add(ctx, enc, b)
	return moved{e: e, add: add, err: err}
}
