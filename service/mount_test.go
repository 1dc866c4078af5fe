package service

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestServeMountsTree: with mount: the service serves the FUSE tree in
// its own process; a point a run writes shows up in it (a guest file
// read through the kernel), the metrics count the mount's reads and the
// repository's bytes, and stopping the service unmounts it.
func TestServeMountsTree(t *testing.T) {
	testenv.NeedFUSE(t)
	repo := catalog.TestRepo(t)
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "images"), 0o700)
	testImage(t, filepath.Join(dir, "images", "web01.raw"), "hello from web01")
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o700)
	cfgPath := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`repo: %s
mount: mnt
jobs:
  - name: kvm
    images: {dir: images}
    schedule: "@yearly"
`, repo.Dir())), 0o600)
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var logb lockedBuffer
	s := New(repo, cfg, Options{Log: slog.New(slog.NewTextHandler(&logb, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	waitFor(t, "the mount", 30*time.Second, func() bool { return mounted(t, mnt) })
	if _, err := s.Start("kvm"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(mnt, "web01", "latest", "disk0", "p1", "hello.txt")
	waitFor(t, "the new point in the tree", 60*time.Second, func() bool {
		b, err := os.ReadFile(file)
		return err == nil && string(b) == "hello from web01"
	})
	img, _ := os.ReadFile(filepath.Join(mnt, "web01", "latest", "disk0.img"))
	var m map[string]float64
	waitFor(t, "the repository's bytes in the metrics", 30*time.Second, func() bool {
		m = scrape(t, s)
		_, ok := m["vmarchive_repository_logical_bytes"]
		return ok
	})
	if m["vmarchive_mount_read_bytes_total"] < float64(len(img)) || len(img) == 0 ||
		m["vmarchive_repository_logical_bytes"] != float64(len(img)) || m["vmarchive_repository_stored_bytes"] <= 0 {
		t.Fatalf("metrics after reading the %d-byte image through the mount: %v", len(img), m)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	done <- nil // for the cleanup
	if mounted(t, mnt) {
		t.Fatalf("still mounted after the service stopped:\n%s", logb.String())
	}
	if !strings.Contains(logb.String(), "unmounted") {
		t.Fatalf("no unmount logged:\n%s", logb.String())
	}
}

// mounted reports whether dir is a mount point (/proc/self/mountinfo).
func mounted(t *testing.T, dir string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

// scrape gathers the service's metrics by name (labels ignored: the last
// value wins).
func scrape(t *testing.T, s *Service) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{s: s})
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			switch {
			case m.GetGauge() != nil:
				out[f.GetName()] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				out[f.GetName()] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}
