package tree

import (
	"context"
	"sync"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// TimedReader bounds each read of a point's disk by a timeout: a stalled
// backend gives an error on the read, not a hung reader.
type TimedReader struct {
	D       *catalog.DiskReader
	Timeout time.Duration
}

// ReadAt reads with a fresh deadline.
func (t TimedReader) ReadAt(p []byte, off int64) (int, error) {
	ctx := &deadlineCtx{deadline: time.Now().Add(t.Timeout)}
	defer ctx.stop()
	return t.D.ReadAtContext(ctx, p, off)
}

// deadlineCtx is context.WithDeadline(context.Background(), deadline)
// whose timer is made only when someone waits on Done: most reads of a
// walk find their chunk in the cache and never do, and a timer set and
// stopped for each was some 3% of the mount's CPU in a tar of small
// files (bench/xfs.sh).
type deadlineCtx struct {
	deadline time.Time
	mu       sync.Mutex
	ctx      context.Context // made by the first Done, or canceled by stop; guarded by mu
	cancel   context.CancelFunc
}

// canceled is a context canceled from the start.
var canceled = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *deadlineCtx) Value(key any) any           { return nil }

func (c *deadlineCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		c.ctx, c.cancel = context.WithDeadline(context.Background(), c.deadline)
	}
	return c.ctx.Done()
}

func (c *deadlineCtx) Err() error {
	c.mu.Lock()
	ctx := c.ctx
	c.mu.Unlock()
	switch {
	case ctx != nil:
		return ctx.Err()
	case !time.Now().Before(c.deadline):
		return context.DeadlineExceeded
	}
	return nil
}

// stop cancels the context, as the cancel of context.WithDeadline does.
func (c *deadlineCtx) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		c.ctx = canceled
		return
	}
	c.cancel()
}

// OpenDisk opens disk of point p with reads bounded by timeout.
func OpenDisk(ctx context.Context, a Archive, p *catalog.Manifest, disk string, timeout time.Duration) (TimedReader, int64, error) {
	d, err := a.OpenDisk(ctx, p, disk)
	if err != nil {
		return TimedReader{}, 0, err
	}
	return TimedReader{d, timeout}, d.Size(), nil
}
