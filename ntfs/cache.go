package ntfs

import (
	"container/list"
	"sync"
)

// lru is a least-recently-used cache bounded by the bytes its values
// cost (as estimated by cost), safe for concurrent use. The newest value
// is kept even when it alone exceeds the bound.
type lru[K comparable, V any] struct {
	cost func(V) int64
	max  int64 // bytes

	mu    sync.Mutex // guards ll, items and bytes
	ll    *list.List // of *lruEntry, front is most recent
	items map[K]*list.Element
	bytes int64 // sum of the costs of the values held
}

type lruEntry[K comparable, V any] struct {
	key  K
	val  V
	cost int64
}

func newLRU[K comparable, V any](maxBytes int64, cost func(V) int64) *lru[K, V] {
	return &lru[K, V]{cost: cost, max: maxBytes, ll: list.New(), items: make(map[K]*list.Element)}
}

func (c *lru[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*lruEntry[K, V]).val, true
	}
	var zero V
	return zero, false
}

func (c *lru[K, V]) add(k K, v V) {
	cost := c.cost(v)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		ent := e.Value.(*lruEntry[K, V])
		c.bytes += cost - ent.cost
		ent.val, ent.cost = v, cost
		c.ll.MoveToFront(e)
	} else {
		c.items[k] = c.ll.PushFront(&lruEntry[K, V]{k, v, cost})
		c.bytes += cost
	}
	for c.bytes > c.max && c.ll.Len() > 1 {
		last := c.ll.Back()
		ent := last.Value.(*lruEntry[K, V])
		c.ll.Remove(last)
		delete(c.items, ent.key)
		c.bytes -= ent.cost
	}
}

// size returns the number of values and their estimated bytes.
func (c *lru[K, V]) size() (int, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len(), c.bytes
}

// purge empties the cache.
func (c *lru[K, V]) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ll.Init()
	clear(c.items)
	c.bytes = 0
}
