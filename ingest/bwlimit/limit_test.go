package bwlimit

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"testing"
	"time"
)

func TestLimiterTokens(t *testing.T) {
	const mib = 1 << 20
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(10 * mib) // burst: a tenth of a second, 1 MiB
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
	l := New(rate)
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

// TestReaderAtShared: two readers reading at once through one limiter
// together take at least as long as their bytes need at its rate (less
// the burst). A slow machine only makes them slower, so this cannot flake.
func TestReaderAtShared(t *testing.T) {
	const rate, each = 8 << 20, 2 << 20
	l := New(rate)
	src := bytes.NewReader(make([]byte, each))
	ctx := context.Background()
	start := time.Now()
	done := make(chan error, 2)
	for range 2 {
		go func() {
			r := l.ReaderAt(ctx, src)
			buf := make([]byte, 256<<10)
			for off := int64(0); off < each; off += int64(len(buf)) {
				if _, err := r.ReadAt(buf, off); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	el := time.Since(start)
	if want := time.Duration(float64(2*each-l.Burst()) / rate * float64(time.Second)); el < want {
		t.Fatalf("2 × %d bytes in %v: faster than %d B/s allows (at least %v)", each, el, rate, want)
	}
	// A cancelled context fails a read that would wait.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.ReaderAt(cctx, src).ReadAt(make([]byte, each), 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("read under a cancelled context: %v", err)
	}
	if r := (*Limiter)(nil).ReaderAt(ctx, src); r != src {
		t.Fatal("a nil limiter wraps the reader")
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]int64{"200MiB": 200 << 20, "64m": 64 << 20, "1048576": 1 << 20, " 2 GiB ": 2 << 30, "512K": 512 << 10} {
		if got, err := ParseRate(in); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1M", "fast", "1PiB", "99999999999T"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) accepted", in)
		}
	}
}
