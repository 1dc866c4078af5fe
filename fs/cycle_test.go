package fs

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestCompareCycle reads .compare/A..B/changes.txt through a real mount
// where B's ext4 or FAT volume has /a/b/loop pointing back at /a
// (testimages/cycle/pair.sh): the read ends, the heap stays small, a "!"
// line names the cycle, and the mount still answers afterwards.
func TestCompareCycle(t *testing.T) {
	testenv.NeedTools(t, "sgdisk", "mke2fs", "debugfs", "mkfs.fat", "mmd", "mcopy", "fls", "istat", "fsstat")
	dir := t.TempDir()
	sh(t, "bash", script("cycle/pair.sh"), dir)
	r := catalog.TestRepo(t)
	tB := t0.Add(time.Hour)
	for _, kind := range []string{"ext4", "fat"} {
		ingestImage(t, r, kind, t0, map[string]string{"disk0": filepath.Join(dir, kind+"-a.raw")})
		ingestImage(t, r, kind, tB, map[string]string{"disk0": filepath.Join(dir, kind+"-b.raw")})
	}
	// A comparison runs at most 10 read timeouts.
	mnt, _ := mountRepo(t, r, Options{ReadTimeout: 3 * time.Second})
	var peak atomic.Uint64
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
		}
	}()
	pair := catalog.FormatPointTime(t0) + ".." + catalog.FormatPointTime(tB)
	for _, kind := range []string{"ext4", "fat"} {
		text := string(readFile(t, filepath.Join(mnt, kind, ".compare", pair, "changes.txt")))
		want := "!\tdisk0/p1/a/b/loop\tpoint " + catalog.FormatPointTime(tB) + `: directory cycle: the same directory as its ancestor "/a"`
		if !strings.Contains(text, want) || strings.Contains(text, "/a/b/loop/") {
			t.Errorf("%s: changes.txt lacks %q or goes below the cycle:\n%s", kind, want, text)
		}
	}
	if p := peak.Load(); p > 512<<20 {
		t.Errorf("the heap grew to %d MiB", p>>20)
	}
	if _, err := os.Stat(mnt); err != nil {
		t.Fatalf("the mount is gone: %v", err)
	}
	if _, err := os.ReadDir(filepath.Join(mnt, "fat", catalog.FormatPointTime(tB), "disk0", "p1", "a")); err != nil {
		t.Fatalf("the mount no longer reads: %v", err)
	}
}
