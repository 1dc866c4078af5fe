package catalog

import (
	"context"
	"fmt"
	"hash"
	"hash/fnv"
	"sync"
	"time"
)

// Statser is what can count a repository's space (Repo; a test's fake).
type Statser interface {
	Stats(ctx context.Context) (*Stats, error)
}

// StatsCache holds the last Stats of a repository and computes the next
// in the background: Stats walks every point's maps, so a dashboard or a
// metrics scrape shows the figures of the last set of points while the
// new set is counted. The zero StatsCache is ready.
type StatsCache struct {
	mu      sync.Mutex
	key     uint64        // the points st counts; guarded by mu
	st      *Stats        // guarded by mu
	at      time.Time     // when st was computed; guarded by mu
	err     error         // of the last computation; guarded by mu
	errAt   time.Time     // guarded by mu
	running chan struct{} // closed when the computation under way ends; nil when none; guarded by mu
}

// statsRetry is how long a failed computation is not tried again.
const statsRetry = time.Minute

// Get returns the newest Stats and whether they count the points key
// names, starting a computation when they do not and waiting up to wait
// for it.
func (c *StatsCache) Get(ctx context.Context, src Statser, key uint64, wait time.Duration) (st *Stats, at time.Time, fresh bool, err error) {
	c.mu.Lock()
	if c.st != nil && c.key == key {
		defer c.mu.Unlock()
		return c.st, c.at, true, nil
	}
	if c.running == nil && (c.err == nil || time.Since(c.errAt) > statsRetry) {
		c.running = make(chan struct{})
		go c.compute(context.WithoutCancel(ctx), src, key, c.running)
	}
	ch := c.running
	c.mu.Unlock()
	if ch != nil {
		t := time.NewTimer(wait)
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st, c.at, c.st != nil && c.key == key, c.err
}

func (c *StatsCache) compute(ctx context.Context, src Statser, key uint64, done chan struct{}) {
	st, err := src.Stats(ctx)
	c.mu.Lock()
	if err == nil {
		c.st, c.key, c.at = st, key, time.Now()
	}
	c.err, c.errAt, c.running = err, time.Now(), nil
	c.mu.Unlock()
	close(done)
}

// PointsKey fingerprints the points of every VM, for StatsCache.Get:
// Stats of the same points are the same (points never change once made).
type PointsKey struct{ h hash.Hash64 }

// NewPointsKey returns an empty fingerprint.
func NewPointsKey() *PointsKey { return &PointsKey{h: fnv.New64a()} }

// Add adds vm's point times; VMs must come in the same order each time.
func (k *PointsKey) Add(vm string, times []time.Time) {
	fmt.Fprintf(k.h, "%q %d", vm, len(times))
	for _, t := range times {
		fmt.Fprintf(k.h, " %d", t.UnixNano())
	}
	k.h.Write([]byte{'\n'})
}

// Sum returns the fingerprint.
func (k *PointsKey) Sum() uint64 { return k.h.Sum64() }
