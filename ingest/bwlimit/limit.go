// Package bwlimit is a bandwidth limit over bytes read: one token bucket
// that any number of readers share (the vSphere reads of a run, or every
// capture of `vmarchive serve` under limits.bwlimit), so their sum stays
// under one rate.
package bwlimit

import (
	"github.com/vmarchive/vmarchive/internal/units"

	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// Limiter is a token bucket over bytes. Safe for concurrent use; a nil
// *Limiter is no limit.
type Limiter struct {
	rate  float64 // bytes per second
	burst float64
	now   func() time.Time

	mu     sync.Mutex
	tokens float64   // guarded by mu; negative when borrowed ahead
	last   time.Time // guarded by mu
}

// New returns a limiter of bytesPerSec with a burst of a tenth of a
// second (at least 1 MiB); nil when bytesPerSec <= 0.
func New(bytesPerSec int64) *Limiter {
	if bytesPerSec <= 0 {
		return nil
	}
	r := float64(bytesPerSec)
	b := max(r/10, 1<<20)
	return &Limiter{rate: r, burst: b, now: time.Now, tokens: b, last: time.Now()}
}

// Rate is the limit in bytes per second (0 for nil: none).
func (l *Limiter) Rate() int64 {
	if l == nil {
		return 0
	}
	return int64(l.rate)
}

// Burst is how many bytes may go at once after an idle time.
func (l *Limiter) Burst() int64 {
	if l == nil {
		return 0
	}
	return int64(l.burst)
}

// Wait takes n bytes from the bucket, sleeping for as long as that
// overdraws it.
func (l *Limiter) Wait(ctx context.Context, n int) error {
	if l == nil {
		return nil
	}
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
func (l *Limiter) reserve(now time.Time, n int) time.Duration {
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

// ReaderAt returns r whose reads take their length from l first; with
// a nil l, r itself. A cancelled ctx fails the reads waiting.
func (l *Limiter) ReaderAt(ctx context.Context, r io.ReaderAt) io.ReaderAt {
	if l == nil {
		return r
	}
	return &limitedReaderAt{ctx: ctx, r: r, l: l}
}

type limitedReaderAt struct {
	ctx context.Context
	r   io.ReaderAt
	l   *Limiter
}

func (lr *limitedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if err := lr.l.Wait(lr.ctx, len(p)); err != nil {
		return 0, err
	}
	return lr.r.ReadAt(p, off)
}

// ParseRate reads a rate in bytes per second: "200MiB", "64M", "1048576".
func ParseRate(s string) (int64, error) {
	n, err := units.ParseBytes(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("rate %q: want bytes per second, a positive number with an optional unit such as 200MiB", s)
	}
	return n, nil
}
