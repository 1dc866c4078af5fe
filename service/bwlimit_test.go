package service

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// TestSharedBandwidthLimit: limits.bwlimit is one rate over all
// captures: two images captured at once take together at least as long
// as their bytes need at that rate (less one burst). With a limit per VM
// they would take half as long. A busy machine only slows the captures,
// so the bound cannot flake.
func TestSharedBandwidthLimit(t *testing.T) {
	repo := catalog.TestRepo(t)
	s := startService(t, repo, "repo: %s\nlimits: {parallel-vms: 2, bwlimit: 4MiB}\njobs:\n  - {name: kvm, images: {dir: images}, schedule: \"@yearly\"}\n", Options{})
	const rate, size = 4 << 20, 4 << 20
	for _, vm := range []string{"web01", "db01"} {
		disk := make([]byte, size)
		rand.Read(disk)
		if err := os.WriteFile(filepath.Join(s.config().Jobs[0].Images.Dir, vm+".raw"), disk, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := runNow(t, s, "kvm")
	if r.Result != ResultOK || len(r.VMs) != 2 {
		t.Fatalf("run: %+v", r)
	}
	var read int64
	start, end := r.VMs[0].Start, r.VMs[0].End
	for _, v := range r.VMs {
		read += v.Read
		start, end = minTime(start, v.Start), maxTime(end, v.End)
	}
	burst := s.limiter().Burst()
	if read < 2*size {
		t.Fatalf("read %d bytes of two %d-byte images", read, size)
	}
	if want := time.Duration(float64(read-burst) / rate * float64(time.Second)); end.Sub(start) < want {
		t.Fatalf("%d bytes in %v: faster than %d B/s over both VMs allows (at least %v)", read, end.Sub(start), rate, want)
	}
	t.Logf("%d bytes in %v under %d B/s", read, end.Sub(start), rate)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
