package vsphere

import (
	"context"
	"math/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

func TestLimiterTokens(t *testing.T) {
	const mib = 1 << 20
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(10 * mib) // burst: a tenth of a second, 1 MiB
	l.last = t0
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	for i, step := range []struct {
		when time.Duration
		n    int
		want time.Duration
	}{
		{0, mib, 0},                                         // the full bucket
		{0, mib, 100 * time.Millisecond},                    // 1 MiB of debt at 10 MiB/s
		{0, 2 * mib, 300 * time.Millisecond},                // queued behind it
		{300 * time.Millisecond, 0, 0},                      // paid off exactly
		{10 * time.Second, 3 * mib, 200 * time.Millisecond}, // idle refills only up to the burst
		{10*time.Second + 200*time.Millisecond, mib / 2, 50 * time.Millisecond},
	} {
		if got := l.reserve(at(step.when), step.n); got != step.want {
			t.Fatalf("step %d: reserve(%v, %d) = %v, want %v", i, step.when, step.n, got, step.want)
		}
	}
	// A clock that goes backwards does not mint tokens.
	if got := l.reserve(at(0), 0); got != 50*time.Millisecond {
		t.Fatalf("after the clock went back: %v", got)
	}
}

// TestLimiterRate drives the bucket with random request sizes from
// several simulated senders, each sending when told, and checks that by
// any time T no more than burst + rate*T bytes went out, and that the
// rate is also reached (the limiter does not starve senders).
func TestLimiterRate(t *testing.T) {
	const rate = 8 << 20
	l := newLimiter(rate)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l.last = t0
	rng := rand.New(rand.NewSource(1))
	ready := make([]time.Time, 4) // when each sender may ask next
	for i := range ready {
		ready[i] = t0
	}
	type send struct {
		at time.Time
		n  int
	}
	var sends []send
	for k := 0; k < 2000; k++ {
		i := 0 // the sender that is ready first asks next
		for j := range ready {
			if ready[j].Before(ready[i]) {
				i = j
			}
		}
		n := 1 + rng.Intn(4<<20)
		at := ready[i].Add(l.reserve(ready[i], n))
		sends = append(sends, send{at, n})
		ready[i] = at
	}
	var total float64
	end := t0
	for _, s := range sends {
		if s.at.After(end) {
			end = s.at
		}
	}
	// Sends happen in non-decreasing time per sender but interleave across
	// senders: check every prefix in time order.
	for _, cut := range []float64{0.25, 0.5, 0.75, 1} {
		T := t0.Add(time.Duration(float64(end.Sub(t0)) * cut))
		total = 0
		for _, s := range sends {
			if !s.at.After(T) {
				total += float64(s.n)
			}
		}
		if lim := l.burst + rate*T.Sub(t0).Seconds() + 1; total > lim {
			t.Fatalf("by %v: %.0f bytes sent, more than burst + rate*T = %.0f", T.Sub(t0), total, lim)
		}
	}
	if got := total / end.Sub(t0).Seconds(); got < 0.95*rate {
		t.Fatalf("throughput %.0f B/s, want about %d", got, rate)
	}
}

// TestBandwidthLimit checks the limit end to end: a full backup of the
// demo disk with Options.Bandwidth takes at least as long as its bytes
// need at that rate (less the bucket's burst).
func TestBandwidthLimit(t *testing.T) {
	img := filepath.Join(t.TempDir(), "web01.raw")
	demoDisk(t, img, 1)
	s := newSim(t, img, false)
	c := s.connect(t)
	repo := catalog.TestRepo(t)
	const rate = 64 << 20
	start := time.Now()
	r := c.Backup(context.Background(), repo, findWeb01(t, c), Options{Bandwidth: rate, Clock: clock()})
	el := time.Since(start)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	served := s.served.Load()
	if served != s.size {
		t.Fatalf("%d bytes over HTTP, want the whole %d-byte disk", served, s.size)
	}
	burst := max(float64(rate)/10, 1<<20)
	if min := time.Duration((float64(served) - burst) / rate * float64(time.Second)); el < min {
		t.Fatalf("%d bytes in %v: faster than the %d B/s limit allows (at least %v)", served, el, rate, min)
	}
	t.Logf("%d bytes in %v at a limit of %d B/s", served, el, rate)
}
