package service

import (
	"context"
	"os"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/index"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/chunker"
)

// IngestWalk walks the guest trees of the images a point is being made
// of, once, while their chunks are stored: for the file boundaries the
// chunks are cut at (moved files dedup) and for the point's file index,
// faster than reading the guests back from the store. Used by ingest and
// by image jobs.
type IngestWalk struct {
	p      *index.Pending
	specs  []ingest.DiskSpec
	stamps []os.FileInfo // each image's size and mtime, to check they stayed
}

// StartIngestWalk starts the walk of specs' disks, which stay open until
// Finish or Cancel, and points each spec with no boundaries of its own
// (and no changed areas) at the walk's.
func StartIngestWalk(ctx context.Context, repo *catalog.Repo, specs []ingest.DiskSpec) *IngestWalk {
	w := &IngestWalk{stamps: make([]os.FileInfo, len(specs)), specs: specs}
	sources := map[string]index.Source{}
	for i, s := range specs {
		w.stamps[i], _ = os.Stat(s.Source)
		sources[s.Name] = s.Disk
	}
	c := repo.Config().Chunking
	if c == nil { // fixed-size chunks: no file boundaries
		w.p = index.Start(ctx, sources)
		return w
	}
	w.p = index.StartBounds(ctx, sources, int64(c.Min), chunker.Block, ingest.MaxBoundaries)
	for i := range specs {
		if s := &specs[i]; s.Changed == nil && s.Boundaries == nil && s.BoundarySource == nil {
			if b := w.p.Boundaries(s.Name); b != nil {
				s.BoundarySource = b
			}
		}
	}
	return w
}

// Committing is the ingest's Committing hook: the index of the new point
// is built while the point is committed.
func (w *IngestWalk) Committing(repo *catalog.Repo) func(*catalog.Manifest) {
	return func(m *catalog.Manifest) { w.p.Prebuild(repo, m) }
}

// Cancel stops the walk (the ingest failed); the images may then be closed.
func (w *IngestWalk) Cancel() { w.p.Cancel() }

// Finish makes and keeps the index of m, the point made of the images:
// from the walk if no image changed meanwhile, else from the store.
func (w *IngestWalk) Finish(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, warn func(error)) error {
	unchanged := true
	for i, s := range w.specs {
		now, err := os.Stat(s.Source)
		unchanged = unchanged && err == nil && w.stamps[i] != nil && now.Size() == w.stamps[i].Size() && now.ModTime().Equal(w.stamps[i].ModTime())
	}
	_, err := w.p.Finish(ctx, repo, m, unchanged, warn)
	return err
}
