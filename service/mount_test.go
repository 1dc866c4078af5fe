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

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestServeMountsTree: with mount: the service serves the FUSE tree in
// its own process; a point a run writes shows up in it (a guest file
// read through the kernel), and stopping the service unmounts it.
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
