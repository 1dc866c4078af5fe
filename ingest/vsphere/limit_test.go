package vsphere

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

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
	r := c.Backup(context.Background(), repo, findWeb01(t, c), Options{Bandwidth: rate, Clock: clock(), Walk: testWalk})
	el := time.Since(start)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	served := s.served.Load()
	if served != s.size+r.Walk.Bytes {
		t.Fatalf("%d bytes over HTTP, want the whole %d-byte disk and the %d of the boundaries walk", served, s.size, r.Walk.Bytes)
	}
	burst := max(float64(rate)/10, 1<<20)
	if min := time.Duration((float64(served) - burst) / rate * float64(time.Second)); el < min {
		t.Fatalf("%d bytes in %v: faster than the %d B/s limit allows (at least %v)", served, el, rate, min)
	}
	t.Logf("%d bytes in %v at a limit of %d B/s", served, el, rate)
}
