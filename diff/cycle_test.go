package diff

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// cyclePair builds testimages/cycle/pair.sh's disks: {ext4,fat}-a.raw and
// -b.raw, where B's /a/b/loop is /a again.
func cyclePair(t *testing.T) string {
	t.Helper()
	testenv.NeedTools(t, "sgdisk", "mke2fs", "debugfs", "mkfs.fat", "mmd", "mcopy", "fls", "istat", "fsstat")
	dir := t.TempDir()
	if out, err := exec.Command("bash", "../testimages/cycle/pair.sh", dir).CombinedOutput(); err != nil {
		t.Fatalf("pair.sh: %v\n%s", err, out)
	}
	return dir
}

// boundedCompare runs Compare and fails the test, cancelling it, if the
// heap grows past 512 MiB or it runs a minute.
func boundedCompare(t *testing.T, repo *catalog.Repo, a, b *catalog.Manifest, opts Options) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan struct{})
	var r *Report
	var err error
	go func() {
		defer close(done)
		r, err = Compare(ctx, repo, a, b, opts)
	}()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			if err != nil {
				t.Fatal(err)
			}
			return r
		case <-tick.C:
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > 512<<20 {
				cancel()
				<-done
				t.Fatalf("Compare's heap grew to %d MiB", ms.HeapAlloc>>20)
			}
		}
	}
}

// TestDirectoryCycle compares a clean ext4 or FAT volume with one whose
// /a/b/loop is /a again: the comparison ends in bounded memory, from the
// indexes, by walking, and with block owners, and a "!" line names
// /a/b/loop as a cycle in point B.
func TestDirectoryCycle(t *testing.T) {
	dir := cyclePair(t)
	for _, kind := range []string{"ext4", "fat"} {
		t.Run(kind, func(t *testing.T) {
			repo := catalog.TestRepo(t)
			t0 := time.Unix(1700000000, 0)
			ma := ingestRaw(t, repo, filepath.Join(dir, kind+"-a.raw"), t0)
			mb := ingestRaw(t, repo, filepath.Join(dir, kind+"-b.raw"), t0.Add(time.Hour))
			for _, opts := range []Options{{}, {NoIndex: true}, {Blocks: true}} {
				r := boundedCompare(t, repo, ma, mb, opts)
				var sb strings.Builder
				WriteText(&sb, r, false)
				text := sb.String()
				want := "!\tdisk0/p1/a/b/loop\tpoint " + mb.Name() + `: directory cycle: the same directory as its ancestor "/a"`
				if !strings.Contains(text, want) {
					t.Errorf("%+v: no line %q in\n%s", opts, want, text)
				}
				if strings.Contains(text, "/a/b/loop/") {
					t.Errorf("%+v: a path below the cycle:\n%s", opts, text)
				}
			}
		})
	}
}
