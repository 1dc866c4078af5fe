package vsphere

import (
	"container/list"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// walkBlock and walkCacheBlocks size the boundary walk's cache of a disk:
// 64 KiB per range request (a request costs far more than its bytes),
// 8 MiB in all (metadata is read near where it was read before).
const (
	walkBlock       = 64 << 10
	walkCacheBlocks = 128
)

// blockCache serves small reads of r from aligned blocks it keeps, the
// most recently used first, fetching the missing blocks of a read in one
// request; reads of several blocks or more go to r directly. Safe for
// concurrent use; a block is fetched once however many ask for it.
type blockCache struct {
	r       io.ReaderAt
	size    int64
	block   int64
	max     int
	fetched atomic.Int64 // bytes read from r
	reads   atomic.Int64 // ReadAt calls on r

	mu  sync.Mutex
	m   map[int64]*cacheBlock // by block number; guarded by mu
	lru list.List             // of *cacheBlock, most recent first; guarded by mu
}

type cacheBlock struct {
	n    int64         // block number
	buf  []byte        // set before done is closed
	err  error         // set before done is closed
	done chan struct{} // closed once fetched
	el   *list.Element // in lru; guarded by blockCache.mu
}

func newBlockCache(r io.ReaderAt, size, block int64, max int) *blockCache {
	return &blockCache{r: r, size: size, block: block, max: max, m: map[int64]*cacheBlock{}}
}

// directBlocks is the length, in blocks, from which a read skips the cache.
const directBlocks = 4

func (c *blockCache) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read at negative offset %d", off)
	}
	if off >= c.size {
		return 0, io.EOF
	}
	want := len(p)
	p = p[:min(int64(len(p)), c.size-off)]
	if int64(len(p)) >= directBlocks*c.block {
		if n, err := c.fetch(p, off); err != nil {
			return n, err
		}
	} else if err := c.readBlocks(p, off); err != nil {
		return 0, err
	}
	if len(p) < want {
		return len(p), io.EOF
	}
	return len(p), nil
}

// readBlocks fills p from off through the cache.
func (c *blockCache) readBlocks(p []byte, off int64) error {
	first, last := off/c.block, (off+int64(len(p))-1)/c.block
	bs, mine := c.acquire(first, last)
	for i := 0; i < len(bs); {
		if !mine[i] {
			i++
			continue
		}
		j := i
		for j < len(bs) && mine[j] {
			j++
		}
		c.fill(bs[i:j])
		i = j
	}
	for _, b := range bs {
		<-b.done
		if b.err != nil {
			return b.err
		}
		bo := b.n * c.block
		lo, hi := max(off, bo), min(off+int64(len(p)), bo+int64(len(b.buf)))
		copy(p[lo-off:hi-off], b.buf[lo-bo:hi-bo])
	}
	return nil
}

// acquire returns the blocks first..last, new ones marked mine (for the
// caller to fill).
func (c *blockCache) acquire(first, last int64) ([]*cacheBlock, []bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var bs []*cacheBlock
	var mine []bool
	for n := first; n <= last; n++ {
		b, ok := c.m[n]
		if ok {
			c.lru.MoveToFront(b.el)
		} else {
			b = &cacheBlock{n: n, done: make(chan struct{})}
			b.el = c.lru.PushFront(b)
			c.m[n] = b
		}
		bs, mine = append(bs, b), append(mine, !ok)
	}
	for e := c.lru.Back(); len(c.m) > c.max && e != nil; {
		prev := e.Prev()
		if b := e.Value.(*cacheBlock); b.ready() {
			c.forget(b)
		}
		e = prev
	}
	return bs, mine
}

func (b *cacheBlock) ready() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// forget drops b. Called with mu held.
func (c *blockCache) forget(b *cacheBlock) {
	if c.m[b.n] == b {
		delete(c.m, b.n)
		c.lru.Remove(b.el)
	}
}

// fill fetches consecutive blocks bs in one read; a failed fetch is not
// kept, so a later read tries again.
func (c *blockCache) fill(bs []*cacheBlock) {
	off := bs[0].n * c.block
	end := min((bs[len(bs)-1].n+1)*c.block, c.size)
	buf := make([]byte, end-off)
	_, err := c.fetch(buf, off)
	for _, b := range bs {
		lo := b.n*c.block - off
		b.buf, b.err = buf[lo:min(lo+c.block, int64(len(buf)))], err
		close(b.done)
	}
	if err != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, b := range bs {
			c.forget(b)
		}
	}
}

// fetch reads p from r, counting.
func (c *blockCache) fetch(p []byte, off int64) (int, error) {
	c.reads.Add(1)
	n, err := c.r.ReadAt(p, off)
	c.fetched.Add(int64(n))
	if err == io.EOF && n == len(p) {
		err = nil
	}
	return n, err
}
