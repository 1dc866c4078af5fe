package ingest

import (
	"context"
	"io"

	"github.com/vmarchive/vmarchive/catalog"
)

// MaxBoundaries bounds the file boundaries of one disk (8 bytes each).
const MaxBoundaries = 4 << 20

// A Walker starts walking the guest filesystems of the disk r of size
// bytes for the edges of the data of files at least minLen bytes long,
// at multiples of chunker.Block and at most MaxBoundaries of them, for
// DiskSpec.BoundarySource. Ingest reads no guest filesystem itself (its
// room imports catalog only): the caller passes guestfs's walk
// (service.FileWalker).
type Walker func(ctx context.Context, r io.ReaderAt, size, minLen int64) Walk

// Walk is a running Walker: the boundaries as it finds them, Stop to end
// it, and how many errors it went past (the first of them), after Stop.
type Walk interface {
	BoundarySource
	Stop()
	Problems() (int, error)
}

// FileBoundaries starts walk over the disk r of size bytes with repo's
// minimum chunk length, so a file that moved is stored again as the same
// chunks. It is nil for a repository of fixed-size chunks or a nil walk.
// The walk is a hint: what it cannot read gets no boundaries, never a
// failed ingest. Stop it once the ingest returns.
func FileBoundaries(ctx context.Context, repo *catalog.Repo, r io.ReaderAt, size int64, walk Walker) Walk {
	c := repo.Config().Chunking
	if c == nil || walk == nil {
		return nil
	}
	return walk(ctx, r, size, int64(c.Min))
}

// StartBoundaries sets the BoundarySource of each disk of specs read in
// full (no Changed list) to FileBoundaries of its Disk. The func returned
// stops the walks.
func StartBoundaries(ctx context.Context, repo *catalog.Repo, specs []DiskSpec, walk Walker) (stop func()) {
	var started []Walk
	for i := range specs {
		d := &specs[i]
		if d.Changed != nil || d.Boundaries != nil || d.BoundarySource != nil {
			continue
		}
		if b := FileBoundaries(ctx, repo, d.Disk, d.Disk.Size(), walk); b != nil {
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
