package vsphere

import (
	"context"
	"io"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
)

// A full read cuts chunks at the edges of large guest files too
// (ingest.FileBoundaries), so the same data at other offsets (a moved
// file, another VM installed from the same media) dedups. The walk that
// finds them reads the partition table and filesystem metadata while the
// pipeline reads the disk. Its reads bypass the read-ahead (whose cursor
// follows the pipeline: a read far ahead would skip the plan) and go
// through a small block cache instead, since the filesystem readers ask
// for a few hundred bytes at a time.

// boundaryWalk is the walk of one disk.
type boundaryWalk struct {
	disk   string
	b      ingest.Walk
	cache  *blockCache
	cancel context.CancelFunc // ends the walk's requests too
}

// startWalks starts the walks of the disks of specs read in full (no
// changed areas: an incremental read keeps the previous point's cuts).
func startWalks(ctx context.Context, repo *catalog.Repo, specs []ingest.DiskSpec, fds []*flatDisk, opts Options) []boundaryWalk {
	if opts.Walk == nil {
		return nil
	}
	var out []boundaryWalk
	for i := range specs {
		if specs[i].Changed != nil {
			continue
		}
		fd := fds[i]
		wctx, cancel := context.WithCancel(ctx)
		direct := &flatDisk{ctx: wctx, files: fd.files, size: fd.size, segs: fd.segs}
		c := newBlockCache(direct, fd.size, walkBlock, walkCacheBlocks)
		b := ingest.FileBoundaries(wctx, repo, c, fd.size, opts.Walk)
		if b == nil {
			cancel()
			return nil // fixed-size chunks: no boundaries
		}
		specs[i].BoundarySource = b
		out = append(out, boundaryWalk{disk: specs[i].Name, b: b, cache: c, cancel: cancel})
	}
	return out
}

// WalkStats count the reads of a file boundaries walk.
type WalkStats struct {
	Bytes    int64 // fetched
	Requests int64 // reads of the disk (a range request each, but for zeros)
}

// stopWalks ends the walks, logs what they went past and returns what
// they fetched.
func stopWalks(ws []boundaryWalk, vm string, opts Options) WalkStats {
	var n WalkStats
	for _, w := range ws {
		w.cancel() // a request in flight too, when the ingest failed early
		w.b.Stop()
		n.Bytes += w.cache.fetched.Load()
		n.Requests += w.cache.reads.Load()
		if k, err := w.b.Problems(); k > 0 {
			opts.logf("%q: disk %s: the walk for file boundaries went past %d errors (the first: %v); chunks there are cut by content only", vm, w.disk, k, err)
		}
	}
	return n
}

var _ io.ReaderAt = (*blockCache)(nil)
