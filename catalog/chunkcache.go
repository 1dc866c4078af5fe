package catalog

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"

	"github.com/vmarchive/vmarchive/catalog/chunkcache"
)

// A repository in an object store may keep the objects its reads fetch
// in a bounded directory beside its catalog (Options.ChunkCacheBytes),
// so a point read again is read from the host's disk. Only reads that go
// through the blob cache use it (the mount, cat of a single file, map
// blocks); verify, check and copy read the store itself.

// chunkCacheDir is the chunk cache's directory in a catalog cache.
const chunkCacheDir = "chunks"

// diskChunks is the on-disk cache of stored objects and whether a failed
// write to it was logged.
type diskChunks struct {
	c      *chunkcache.Cache
	logf   func(string, ...any)
	warned atomic.Bool
}

// warn logs the first failed write to the cache.
func (d *diskChunks) warn(err error) {
	if !d.warned.Swap(true) {
		d.logf("reading on without caching some chunks: %v", err)
	}
}

func (r *Repo) openChunkCache(limit int64) error {
	if limit <= 0 {
		return nil
	}
	c, err := chunkcache.Open(filepath.Join(r.dir, chunkCacheDir), limit)
	if err != nil {
		return err
	}
	r.chunks = &diskChunks{c: c, logf: r.logf}
	return nil
}

// ChunkCache returns the on-disk chunk cache, nil when there is none.
func (r *Repo) ChunkCache() *chunkcache.Cache {
	if r.chunks == nil {
		return nil
	}
	return r.chunks.c
}

// fetchCached is fetch through the chunk cache: a cached object is used
// when it decodes and verifies (else dropped and fetched again), and a
// fetched one is kept once verified, sealed as the store holds it.
func (r *Repo) fetchCached(ctx context.Context, id ChunkID, maxSize int) ([]byte, error) {
	if r.chunks == nil {
		return r.fetch(ctx, id, maxSize)
	}
	key := id.String()
	if stored, ok := r.chunks.c.Get(key); ok {
		if b, err := r.decodeObject(id, stored, maxSize, true); err == nil {
			return b, nil
		}
		r.chunks.c.Drop(key)
	}
	stored, err := r.be.Get(ctx, id.ObjectName())
	if err != nil {
		return nil, fmt.Errorf("chunk %s: %w", id, err)
	}
	b, err := r.decodeObject(id, stored, maxSize, false)
	if err != nil {
		return nil, err
	}
	r.chunks.c.PutAsync(key, stored, r.chunks.warn)
	return b, nil
}
