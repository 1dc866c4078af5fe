package ingest

import (
	"context"
	"fmt"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest/chunker"
)

// finisher is the part of catalog.MapBuilder the pipeline uses.
type finisher interface {
	mapBuilder
	Finish(ctx context.Context) (catalog.ChunkID, error)
}

func newMapBuilder(w *catalog.Writer, size int64) finisher { return w.NewMapBuilder(size) }

// cutter is the repository's chunking. A format-1 repository (fixed
// chunks) takes no new points: copy migrates it.
func cutter(repo *catalog.Repo) (*chunker.Cutter, error) {
	cfg := repo.Config()
	if cfg.Chunking == nil {
		return nil, fmt.Errorf("repository format %d cuts fixed %d-byte chunks, not content-defined ones", cfg.Version, cfg.ChunkSize)
	}
	c := cfg.Chunking
	return chunker.NewKeyed(chunker.Params{Min: c.Min, Avg: c.Avg, Max: c.Max}, repo.ChunkerSeed())
}

// previous returns the map of disk in the VM's newest point, which a
// changed-areas ingest takes its unchanged extents from.
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
