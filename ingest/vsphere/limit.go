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
	now   func() time.Time

	mu     sync.Mutex
	tokens float64   // guarded by mu; negative when borrowed ahead
	last   time.Time // guarded by mu
}

func newLimiter(bytesPerSec int64) *limiter {
	if bytesPerSec <= 0 {
		return nil
	}
	r := float64(bytesPerSec)
	b := max(r/10, 1<<20)
	return &limiter{rate: r, burst: b, now: time.Now, tokens: b, last: time.Now()}
}

// wait takes n bytes from the bucket, sleeping for as long as that
// overdraws it.
func (l *limiter) wait(ctx context.Context, n int) error {
	d := l.reserve(l.now(), n)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// reserve takes n bytes at time now and returns how long the caller must
// wait before sending them: until the bucket, refilled at rate up to
// burst, is out of debt. Callers that reserve together queue up, each
// after the bytes reserved before it.
func (l *limiter) reserve(now time.Time, n int) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el := now.Sub(l.last); el > 0 {
		l.tokens = min(l.burst, l.tokens+el.Seconds()*l.rate)
		l.last = now
	}
	l.tokens -= float64(n)
	if l.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.tokens / l.rate * float64(time.Second))
}
