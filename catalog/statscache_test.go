package catalog

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// statsFunc is a Statser made of a function.
type statsFunc func(ctx context.Context) (*Stats, error)

func (f statsFunc) Stats(ctx context.Context) (*Stats, error) { return f(ctx) }

// TestStatsCache: the figures are computed once per set of points; a new
// set is computed in the background while the last figures are shown;
// a failure is shown and not retried at once.
func TestStatsCache(t *testing.T) {
	var c StatsCache
	var calls atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	var fail atomic.Bool
	src := statsFunc(func(ctx context.Context) (*Stats, error) {
		n := calls.Add(1)
		if n == 2 {
			close(started)
			<-release
		}
		if fail.Load() {
			return nil, errors.New("map block unreadable")
		}
		return &Stats{Points: int(n)}, nil
	})
	ctx := context.Background()
	check := func(what string, key uint64, wait time.Duration, points int, fresh bool, nCalls int32) {
		t.Helper()
		st, _, f, err := c.Get(ctx, src, key, wait)
		if nCalls == 2 {
			<-started
		}
		got := 0
		if st != nil {
			got = st.Points
		}
		if got != points || f != fresh || err != nil || calls.Load() != nCalls {
			t.Errorf("%s: points %d fresh %v err %v after %d calls, want %d %v nil after %d", what, got, f, err, calls.Load(), points, fresh, nCalls)
		}
	}
	check("first", 1, time.Minute, 1, true, 1)
	check("same points", 1, time.Minute, 1, true, 1)
	check("new points, not waiting", 2, 0, 1, false, 2) // the second computation blocks
	close(release)
	check("new points, waiting", 2, time.Minute, 2, true, 2)

	fail.Store(true)
	if _, _, _, err := c.Get(ctx, src, 3, time.Minute); err == nil || calls.Load() != 3 {
		t.Errorf("failed computation: err %v after %d calls", err, calls.Load())
	}
	if st, _, fresh, err := c.Get(ctx, src, 3, time.Minute); err == nil || calls.Load() != 3 || fresh || st.Points != 2 {
		t.Errorf("after a failure: %+v fresh %v err %v after %d calls, want the last figures, the error, no new call", st, fresh, err, calls.Load())
	}
}
