package instant

import (
	"context"
	"fmt"
	"os"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/restore/overlay"
)

// Commit ingests point p with the writes of the overlay at path on disk
// as a new point of p's VM ("migrate back"): the other disks and the
// configuration as in p. When p is the VM's newest point only the
// overlay's written blocks are read; the rest of each disk is taken from
// p's chunks.
func Commit(ctx context.Context, repo *catalog.Repo, p *catalog.Manifest, disk string, path string) (*catalog.Manifest, error) {
	if _, err := p.Disk(disk); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path + ".map"); err != nil {
		return nil, fmt.Errorf("overlay to commit: %w", err) // Open would make a new one
	}
	latest, err := repo.Point(p.VM, catalog.Latest)
	if err != nil {
		return nil, err
	}
	incremental := latest.Name() == p.Name()
	var specs []ingest.DiskSpec
	for _, rec := range p.Disks {
		d, err := repo.OpenDisk(ctx, p, rec.Name)
		if err != nil {
			return nil, err
		}
		spec := ingest.DiskSpec{Name: rec.Name, Source: Ident(p, rec.Name), Format: "raw", Local: false}
		src := &commitDisk{Base: &pointDisk{d: d}, size: d.Size()}
		if rec.Name == disk {
			ov, err := overlay.Open(path, src.Base, d.Size(), Ident(p, disk))
			if err != nil {
				return nil, err
			}
			defer ov.Close()
			src.Base = ov
			spec.Source = path
			if incremental {
				spec.Changed, err = written(ov)
				if err != nil {
					return nil, err
				}
			}
		} else if incremental {
			spec.Changed = []image.Extent{}
		}
		spec.Disk = src
		specs = append(specs, spec)
	}
	config, err := configBlobs(ctx, repo, p)
	if err != nil {
		return nil, err
	}
	return ingest.Ingest(ctx, repo, ingest.Options{VM: p.VM, SourceKind: "nbd-overlay", Config: config}, specs)
}

func written(ov *overlay.Overlay) ([]image.Extent, error) {
	out := []image.Extent{}
	err := ov.Written(func(off, n int64) error {
		out = append(out, image.Extent{Off: off, Len: n})
		return nil
	})
	return out, err
}

// commitDisk is a disk to ingest: its non-zero extents are what the
// mapper reports as data.
type commitDisk struct {
	Base interface {
		ReadAt(p []byte, off int64) (int, error)
		Extents(off, n int64, fn func(off, n int64, zero bool) error) error
	}
	size int64
}

func (c *commitDisk) ReadAt(p []byte, off int64) (int, error) { return c.Base.ReadAt(p, off) }
func (c *commitDisk) Size() int64                             { return c.size }

// Allocated lists the extents that are not known zeros.
func (c *commitDisk) Allocated() ([]image.Extent, error) {
	var out []image.Extent
	err := c.Base.Extents(0, c.size, func(off, n int64, zero bool) error {
		if zero {
			return nil
		}
		if k := len(out) - 1; k >= 0 && out[k].Off+out[k].Len == off {
			out[k].Len += n
		} else {
			out = append(out, image.Extent{Off: off, Len: n})
		}
		return nil
	})
	return out, err
}

// maxConfigBlob bounds a captured configuration file read back.
const maxConfigBlob = 64 << 20

func configBlobs(ctx context.Context, repo *catalog.Repo, p *catalog.Manifest) (map[string][]byte, error) {
	out := make(map[string][]byte, len(p.Config))
	for name, f := range p.Config {
		if f.Size < 0 || f.Size > maxConfigBlob {
			return nil, fmt.Errorf("point %s config %q: size %d out of range", p.ID(), name, f.Size)
		}
		b, err := repo.ReadChunk(ctx, f.ID, int(f.Size))
		if err != nil {
			return nil, fmt.Errorf("point %s config %q: %w", p.ID(), name, err)
		}
		out[name] = b
	}
	return out, nil
}
