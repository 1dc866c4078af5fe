package tree

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestDeadlineCtx: deadlineCtx behaves as context.WithDeadline: Err is nil
// until the deadline and DeadlineExceeded after it, whether or not Done
// was asked for; Done closes at the deadline; stop cancels.
func TestDeadlineCtx(t *testing.T) {
	c := &deadlineCtx{deadline: time.Now().Add(time.Hour)}
	if d, ok := c.Deadline(); !ok || d != c.deadline {
		t.Fatalf("Deadline() = %v, %v", d, ok)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("Err before the deadline, no Done yet: %v", err)
	}
	select {
	case <-c.Done():
		t.Fatal("Done closed an hour early")
	default:
	}
	c.stop()
	<-c.Done()
	if err := c.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err after stop: %v, want Canceled", err)
	}

	c = &deadlineCtx{deadline: time.Now().Add(-time.Second)}
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err past the deadline, no Done yet: %v", err)
	}
	c.stop()
	if err := c.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err after stop: %v, want Canceled", err)
	}

	c = &deadlineCtx{deadline: time.Now().Add(50 * time.Millisecond)}
	defer c.stop()
	start := time.Now()
	select {
	case <-c.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("Done did not close at the deadline")
	}
	if el := time.Since(start); el < 40*time.Millisecond {
		t.Fatalf("Done closed after %v, before the deadline", el)
	}
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err after Done: %v, want DeadlineExceeded", err)
	}
}

// BenchmarkDeadline: a deadline nobody waits on, the lazy way and
// context.WithTimeout's.
func BenchmarkDeadline(b *testing.B) {
	b.Run("lazy", func(b *testing.B) {
		for b.Loop() {
			c := &deadlineCtx{deadline: time.Now().Add(time.Minute)}
			_ = c.Err()
			c.stop()
		}
	})
	b.Run("WithTimeout", func(b *testing.B) {
		for b.Loop() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_ = ctx.Err()
			cancel()
		}
	})
}
