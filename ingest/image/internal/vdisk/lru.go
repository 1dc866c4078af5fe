package vdisk

import (
	"container/list"
	"sync"
)

// LRU is a bounded least-recently-used cache safe for concurrent use.
// Values must not be modified once added.
type LRU[K comparable, V any] struct {
	mu struct {
		sync.Mutex
		ll    list.List           // of *lruEntry, front is newest
		items map[K]*list.Element // guarded by mu
	}
	max int
}

type lruEntry[K comparable, V any] struct {
	key K
	val V
}

// NewLRU returns a cache holding at most max entries (at least 1).
func NewLRU[K comparable, V any](n int) *LRU[K, V] {
	c := &LRU[K, V]{max: max(n, 1)}
	c.mu.items = make(map[K]*list.Element)
	return c
}

// Get returns the cached value for k.
func (c *LRU[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.mu.items[k]; ok {
		c.mu.ll.MoveToFront(el)
		return el.Value.(*lruEntry[K, V]).val, true
	}
	var zero V
	return zero, false
}

// Add stores v under k, evicting the oldest entry when full.
func (c *LRU[K, V]) Add(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.mu.items[k]; ok {
		el.Value.(*lruEntry[K, V]).val = v
		c.mu.ll.MoveToFront(el)
		return
	}
	c.mu.items[k] = c.mu.ll.PushFront(&lruEntry[K, V]{k, v})
	for c.mu.ll.Len() > c.max {
		old := c.mu.ll.Back()
		c.mu.ll.Remove(old)
		delete(c.mu.items, old.Value.(*lruEntry[K, V]).key)
	}
}
