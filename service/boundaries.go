package service

import (
	"context"
	"io"

	"github.com/vmarchive/vmarchive/guestfs"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/chunker"
)

// FileWalker is the walk of guest filesystems for file boundaries that
// ingest and ingest/vsphere take (ingest.Walker), for the service's jobs
// and the CLI's ingest: ingest's room does not read guest filesystems.
func FileWalker(ctx context.Context, r io.ReaderAt, size, minLen int64) ingest.Walk {
	return guestfs.DiskBoundaries(ctx, r, size, minLen, chunker.Block, ingest.MaxBoundaries)
}

// DiskFileBoundaries lists, all at once, the boundaries FileWalker hands
// out for the disk r of size bytes (ingest.CopyOptions.Boundaries).
func DiskFileBoundaries(ctx context.Context, r io.ReaderAt, size, minLen int64) ([]int64, error) {
	return guestfs.DiskFileBoundaries(ctx, r, size, minLen, chunker.Block, ingest.MaxBoundaries)
}
