package web

import (
	"context"
	"fmt"
	"hash"
	"hash/fnv"
	"sync"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// The dashboard's repository figures come from catalog.Repo.Stats (what
// `vmarchive stats` prints), which walks every point's maps: it runs in
// the background, once per set of points, and the dashboard shows the
// last result.

// statser is an archive that can count its space (catalog.Repo).
type statser interface {
	Stats(ctx context.Context) (*catalog.Stats, error)
}

// statsCache holds the last Stats and computes the next one.
type statsCache struct {
	mu      sync.Mutex
	key     uint64         // the points st counts; guarded by mu
	st      *catalog.Stats // guarded by mu
	at      time.Time      // when st was computed; guarded by mu
	err     error          // of the last computation; guarded by mu
	errAt   time.Time      // guarded by mu
	running chan struct{}  // closed when the computation under way ends; nil when none; guarded by mu
}

// statsRetry is how long a failed computation is not tried again.
const statsRetry = time.Minute

// get returns the newest Stats and whether they count the points key
// names, starting a computation when they do not and waiting up to wait
// for it.
func (c *statsCache) get(ctx context.Context, src statser, key uint64, wait time.Duration) (st *catalog.Stats, at time.Time, fresh bool, err error) {
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

func (c *statsCache) compute(ctx context.Context, src statser, key uint64, done chan struct{}) {
	st, err := src.Stats(ctx)
	c.mu.Lock()
	if err == nil {
		c.st, c.key, c.at = st, key, time.Now()
	}
	c.err, c.errAt, c.running = err, time.Now(), nil
	c.mu.Unlock()
	close(done)
}

// pointsKey fingerprints the points of every VM: Stats of the same
// points are the same (points never change once made).
type pointsKey struct{ h hash.Hash64 }

func newPointsKey() *pointsKey { return &pointsKey{h: fnv.New64a()} }

func (k *pointsKey) add(vm string, times []time.Time) {
	fmt.Fprintf(k.h, "%q %d", vm, len(times))
	for _, t := range times {
		fmt.Fprintf(k.h, " %d", t.UnixNano())
	}
	k.h.Write([]byte{'\n'})
}

// repoFigures is the dashboard's line about the repository.
type repoFigures struct {
	Points                        int
	Logical, Data, Unique, Stored string
	Dedup, Compression, Overall   string
	AsOf, Error                   string
	Updating                      bool
}

func figures(st *catalog.Stats, at time.Time, fresh bool, err error) *repoFigures {
	f := &repoFigures{Updating: !fresh}
	if err != nil {
		f.Error = err.Error()
	}
	if st == nil {
		return f
	}
	f.Points = st.Points
	f.Logical, f.Data, f.Unique, f.Stored = humanSize(st.Logical), humanSize(st.Data), humanSize(st.Unique), humanSize(st.Stored)
	f.Dedup, f.Compression = ratio(st.DedupRatio), ratio(st.CompressionRatio)
	if st.Stored > 0 {
		f.Overall = ratio(float64(st.Logical) / float64(st.Stored))
	}
	f.AsOf = showTime(at)
	return f
}

func ratio(r float64) string { return fmt.Sprintf("%.2f×", r) }
