package vsphere

import (
	"context"
	"sync"
	"time"
)

// limiter is a token bucket over bytes, shared by every reader of a run so
// backup traffic stays under one rate. Safe for concurrent use.
type limiter struct {
	rate  float64 // bytes per second
	burst float64

	mu     sync.Mutex
	tokens float64   // guarded by mu; negative when borrowed ahead
	last   time.Time // guarded by mu
}

func newLimiter(bytesPerSec int64) *limiter {
	if bytesPerSec <= 0 {
		return nil
	}
	r := float64(bytesPerSec)
	return &limiter{rate: r, burst: max(r/10, 1<<20), tokens: max(r/10, 1<<20), last: time.Now()}
}

// wait takes n bytes from the bucket, sleeping for as long as that
// overdraws it.
func (l *limiter) wait(ctx context.Context, n int) error {
	l.mu.Lock()
	now := time.Now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	l.tokens -= float64(n)
	debt := l.tokens
	l.mu.Unlock()
	if debt >= 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(-debt / l.rate * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
