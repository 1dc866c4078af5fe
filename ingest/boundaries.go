package ingest

import (
	"context"
	"io"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
	"github.com/vmarchive/vmarchive/ingest/chunker"
)

// MaxBoundaries bounds the file boundaries of one disk (8 bytes each).
const MaxBoundaries = 4 << 20

// FileBoundaries starts walking the guest filesystems of the disk r of
// size bytes for DiskSpec.BoundarySource: the edges of the data of files
// at least one chunk long (repo's minimum), so a file that moved is stored
// again as the same chunks. It is nil for a repository of fixed-size
// chunks. The walk is a hint: what it cannot read gets no boundaries
// (Boundaries.Problems says what), never a failed ingest. Stop it once
// the ingest returns.
func FileBoundaries(ctx context.Context, repo *catalog.Repo, r io.ReaderAt, size int64) *guestfs.Boundaries {
	c := repo.Config().Chunking
	if c == nil {
		return nil
	}
	return guestfs.DiskBoundaries(ctx, r, size, int64(c.Min), chunker.Block, MaxBoundaries)
}

// StartBoundaries sets the BoundarySource of each disk of specs read in
// full (no Changed list) to FileBoundaries of its Disk. The func returned
// stops the walks.
func StartBoundaries(ctx context.Context, repo *catalog.Repo, specs []DiskSpec) (stop func()) {
	var started []*guestfs.Boundaries
	for i := range specs {
		d := &specs[i]
		if d.Changed != nil || d.Boundaries != nil || d.BoundarySource != nil {
			continue
		}
		if b := FileBoundaries(ctx, repo, d.Disk, d.Disk.Size()); b != nil {
			d.BoundarySource = b
			started = append(started, b)
		}
	}
	return func() {
		for _, b := range started {
			b.Stop()
		}
	}
}

// DiskBoundaries lists, all at once, the boundaries FileBoundaries hands
// out for the disk r of size bytes cut into chunks of at least minLen
// bytes (CopyOptions.Boundaries).
func DiskBoundaries(ctx context.Context, r io.ReaderAt, size, minLen int64) ([]int64, error) {
	return guestfs.DiskFileBoundaries(ctx, r, size, minLen, chunker.Block, MaxBoundaries)
}
