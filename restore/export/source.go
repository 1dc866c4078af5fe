package export

import (
	"context"
	"fmt"

	"github.com/vmarchive/vmarchive/catalog"
)

// pointDisk is a point's disk in the archive as a Source.
type pointDisk struct {
	d   *catalog.DiskReader
	ref catalog.DiskRef
}

// Disk opens disk of point p for export. readahead bounds in bytes the
// chunks decoded ahead of the image writer
// (catalog.DiskReader.SetReadahead): 0 means catalog.DefaultReadahead,
// negative none (each chunk fetched when the one before is written).
func Disk(ctx context.Context, repo *catalog.Repo, p *catalog.Manifest, disk string, readahead int64) (Source, error) {
	d, err := repo.OpenDisk(ctx, p, disk)
	if err != nil {
		return nil, err
	}
	if readahead != 0 {
		d.SetReadahead(readahead) // negative: none
	}
	return &pointDisk{d: d, ref: p.DiskRef(disk)}, nil
}

func (p *pointDisk) Size() int64 { return p.d.Size() }

func (p *pointDisk) Layout(ctx context.Context, fn func(Extent) error) error {
	m := p.d.Map()
	var at int64
	err := m.Extents(ctx, 0, m.Size(), func(e catalog.Extent) error {
		at = e.End()
		return fn(Extent{Off: e.Off, Len: e.Len, Data: !e.ID.IsZero()})
	})
	if err != nil {
		return fmt.Errorf("%s: read the map after offset %d: %w", p.ref, at, err)
	}
	return nil
}

func (p *pointDisk) Stream(ctx context.Context, fn func(Extent, []byte) error) error {
	return p.d.Stream(ctx, func(e catalog.Extent, b []byte) error {
		return fn(Extent{Off: e.Off, Len: e.Len, Data: b != nil}, b)
	})
}
