package vsphere

import (
	"context"
	"io"

	"github.com/vmarchive/vmarchive/guestfs"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/chunker"
)

// testWalk is the walk cmd/vmarchive and the service pass in Options.Walk
// (service.FileWalker, which this package's room may not import).
func testWalk(ctx context.Context, r io.ReaderAt, size, minLen int64) ingest.Walk {
	return guestfs.DiskBoundaries(ctx, r, size, minLen, chunker.Block, ingest.MaxBoundaries)
}
