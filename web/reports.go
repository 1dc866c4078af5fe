package web

import (
	"container/list"
	"context"
	"sync"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/diff"
)

// reportCache keeps the last comparisons made: points never change, and
// paging or filtering a comparison asks for the same report again. A
// comparison runs detached from the request that started it, so a
// reload after a browser gave up finds it done (or still running).
type reportCache struct {
	mu    sync.Mutex
	lru   *list.List               // of *cmpJob, most recent first; guarded by mu
	byKey map[string]*list.Element // guarded by mu
}

type cmpJob struct {
	key  string
	done chan struct{} // closed when rep, err are set
	rep  *diff.Report
	err  error
}

const reportCacheSize = 8

func (c *reportCache) get(ctx context.Context, repo *catalog.Repo, a, b *catalog.Manifest) (*diff.Report, error) {
	key := a.ID().String() + "\x00" + b.ID().String()
	c.mu.Lock()
	if c.lru == nil {
		c.lru, c.byKey = list.New(), map[string]*list.Element{}
	}
	el := c.byKey[key]
	if el == nil {
		j := &cmpJob{key: key, done: make(chan struct{})}
		el = c.lru.PushFront(j)
		c.byKey[key] = el
		if c.lru.Len() > reportCacheSize {
			old := c.lru.Remove(c.lru.Back()).(*cmpJob)
			delete(c.byKey, old.key)
		}
		go c.run(context.WithoutCancel(ctx), j, repo, a, b)
	} else {
		c.lru.MoveToFront(el)
	}
	j := el.Value.(*cmpJob)
	c.mu.Unlock()
	select {
	case <-j.done:
		return j.rep, j.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run compares; a failure is not kept, the next request tries again.
func (c *reportCache) run(ctx context.Context, j *cmpJob, repo *catalog.Repo, a, b *catalog.Manifest) {
	j.rep, j.err = diff.Compare(ctx, repo, a, b, diff.Options{})
	if j.err != nil {
		c.mu.Lock()
		if el := c.byKey[j.key]; el != nil && el.Value == j {
			c.lru.Remove(el)
			delete(c.byKey, j.key)
		}
		c.mu.Unlock()
	}
	close(j.done)
}
