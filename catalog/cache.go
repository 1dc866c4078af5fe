package catalog

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/vmarchive/vmarchive/catalog/format"
)

// blobCache is an LRU of decoded, verified objects (chunks and map leaves)
// bounded by bytes. Concurrent misses of one object share a single fetch.
type blobCache struct {
	max    int64
	flight singleflight.Group

	mu    sync.Mutex
	used  int64                     // guarded by mu
	order *list.List                // of *cacheEntry, front = newest; guarded by mu
	items map[ChunkID]*list.Element // guarded by mu
	leafs map[ChunkID][]ChunkID     // decoded format-1 leaves kept with their bytes; guarded by mu
	nodes map[ChunkID]*mapNode      // decoded format-2 map blocks kept with their bytes; guarded by mu
}

type cacheEntry struct {
	id   ChunkID
	data []byte
}

func newBlobCache(max int64) *blobCache {
	return &blobCache{max: max, order: list.New(), items: map[ChunkID]*list.Element{}, leafs: map[ChunkID][]ChunkID{}, nodes: map[ChunkID]*mapNode{}}
}

func (c *blobCache) get(id ChunkID) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[id]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*cacheEntry).data, true
	}
	return nil, false
}

func (c *blobCache) put(id ChunkID, data []byte) {
	if int64(len(data)) > c.max/4 {
		return // would evict most of the cache
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[id]; ok {
		return
	}
	c.items[id] = c.order.PushFront(&cacheEntry{id: id, data: data})
	c.used += int64(len(data))
	for c.used > c.max {
		e := c.order.Back()
		ce := e.Value.(*cacheEntry)
		c.order.Remove(e)
		delete(c.items, ce.id)
		delete(c.leafs, ce.id)
		delete(c.nodes, ce.id)
		c.used -= int64(len(ce.data))
	}
}

// DefaultFetchTimeout bounds one shared fetch from the backend unless
// Options.FetchTimeout says otherwise. Each caller also stops waiting when
// its own context is done.
const DefaultFetchTimeout = 2 * time.Minute

// readBlob returns the verified plaintext of object id, at most maxSize bytes.
// The result is shared: callers must not modify it.
func (r *Repo) readBlob(ctx context.Context, id ChunkID, maxSize int) ([]byte, error) {
	if b, ok := r.cache.get(id); ok {
		return b, nil
	}
	// The fetch is shared by every caller that wants id meanwhile, so it
	// must not die with the first caller's context.
	ch := r.cache.flight.DoChan(string(id[:]), func() (interface{}, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.fetchTimeout)
		defer cancel()
		b, err := r.fetchCached(fctx, id, maxSize)
		if err != nil {
			return nil, err
		}
		r.cache.put(id, b)
		return b, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.([]byte), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("chunk %s: %w", id, ctx.Err())
	}
}

// fetch reads, decodes and verifies one object, bypassing the cache.
func (r *Repo) fetch(ctx context.Context, id ChunkID, maxSize int) ([]byte, error) {
	stored, err := r.be.Get(ctx, id.ObjectName())
	if err != nil {
		return nil, fmt.Errorf("chunk %s: %w", id, err)
	}
	return r.decodeObject(id, stored, maxSize, true)
}

// decodeObject unseals, decodes and verifies the stored object of id;
// inPlace lets it decrypt over stored.
func (r *Repo) decodeObject(id ChunkID, stored []byte, maxSize int, inPlace bool) ([]byte, error) {
	stored, err := r.unseal(id.ObjectName(), stored, inPlace)
	if err != nil {
		return nil, fmt.Errorf("chunk %s: %w", id, err)
	}
	var dst []byte
	if len(stored) > 0 && stored[0] != format.EncRaw {
		dst = make([]byte, 0, format.PlainSize(stored, maxSize))
	}
	plain, err := format.DecodeChunk(dst, stored, maxSize)
	if err != nil {
		return nil, fmt.Errorf("chunk %s: %w", id, err)
	}
	if got := r.HashChunk(plain); got != id {
		return nil, fmt.Errorf("chunk %s: content hashes to %s: %w", id, got, ErrCorrupt)
	}
	return plain, nil
}

// leaf returns the decoded IDs of a map leaf of n entries.
func (r *Repo) leaf(ctx context.Context, id ChunkID, n int) ([]ChunkID, error) {
	r.cache.mu.Lock()
	ids, ok := r.cache.leafs[id]
	r.cache.mu.Unlock()
	if ok && len(ids) == n {
		return ids, nil
	}
	b, err := r.readBlob(ctx, id, 5+32*n)
	if err != nil {
		return nil, fmt.Errorf("map leaf: %w", err)
	}
	if ids, err = format.DecodeBlock(b, format.BlockLeaf, n); err != nil {
		return nil, fmt.Errorf("map leaf %s: %w", id, err)
	}
	r.cache.mu.Lock()
	if _, ok := r.cache.items[id]; ok {
		r.cache.leafs[id] = ids
	}
	r.cache.mu.Unlock()
	return ids, nil
}

// ReadBlob returns the verified content of a stored blob, such as a
// captured configuration file, of at most maxSize bytes. The result is
// shared: callers must not modify it.
func (r *Repo) ReadBlob(ctx context.Context, id ChunkID, maxSize int) ([]byte, error) {
	return r.readBlob(ctx, id, maxSize)
}

// ReadChunk is ReadBlob without the cache, for data read once.
func (r *Repo) ReadChunk(ctx context.Context, id ChunkID, maxSize int) ([]byte, error) {
	return r.fetch(ctx, id, maxSize)
}
