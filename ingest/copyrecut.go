package ingest

import (
	"context"
	"fmt"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest/areas"
	"github.com/vmarchive/vmarchive/ingest/image"
)

// recut copies p by reading each disk through the source's DiskReader and
// ingesting it into the destination, which cuts it with its own chunking.
// Only the source map's non-hole extents are read.
func (c *copier) recut(ctx context.Context, p *catalog.Manifest, config map[string][]byte, cp *CopiedPoint) (*catalog.Manifest, error) {
	specs := make([]DiskSpec, 0, len(p.Disks))
	for i := range p.Disks {
		d := &p.Disks[i]
		sd, err := c.sourceDisk(ctx, p, d)
		if err != nil {
			return nil, fmt.Errorf("disk %s: %w", d.Name, err)
		}
		for _, a := range sd.alloc {
			cp.BytesRead += a.Len // each source chunk is fetched once
		}
		spec := DiskSpec{Name: d.Name, Disk: sd, Source: d.Source, Format: d.Format}
		if cc := c.dst.Config().Chunking; cc != nil && c.opts.Boundaries != nil {
			if spec.Boundaries, err = c.opts.Boundaries(ctx, sd, sd.Size(), int64(cc.Min)); err != nil {
				return nil, fmt.Errorf("disk %s: %w", d.Name, err)
			}
		}
		specs = append(specs, spec)
	}
	sentBefore := c.prog.Sent
	opts := Options{
		VM: p.VM, Time: p.Time, SourceKind: p.Source, Config: config, Workers: c.opts.Workers,
		Progress: func(pr Progress) {
			c.prog.Done = c.base + pr.Done
			c.report(false)
		},
	}
	m, err := Ingest(ctx, c.dst, opts, specs)
	if err != nil {
		return nil, err
	}
	for _, d := range m.Disks {
		c.prog.Sent = sentBefore + d.Stats.NewBytes
		sentBefore = c.prog.Sent
	}
	return m, nil
}

// sourceDisk is a source point's disk as ingest reads it: Allocated is the
// map's non-hole extents, merged.
type sourceDisk struct {
	*catalog.DiskReader
	alloc []image.Extent
}

func (c *copier) sourceDisk(ctx context.Context, p *catalog.Manifest, d *catalog.DiskRecord) (*sourceDisk, error) {
	r, err := c.src.OpenDisk(ctx, p, d.Name)
	if err != nil {
		return nil, err
	}
	var alloc []image.Extent
	err = forExtents(ctx, r.Map(), func(e extent) error {
		if e.ID.IsZero() {
			return nil
		}
		if n := len(alloc); n > 0 && alloc[n-1].Off+alloc[n-1].Len == e.Off {
			alloc[n-1].Len += e.Len
		} else {
			alloc = append(alloc, image.Extent{Off: e.Off, Len: e.Len})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sourceDisk{DiskReader: r, alloc: areas.Merge(alloc)}, nil
}

func (s *sourceDisk) Allocated() ([]image.Extent, error) { return s.alloc, nil }
