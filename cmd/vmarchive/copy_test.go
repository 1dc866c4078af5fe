package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// copyImages builds two versions of a 40 MiB ext4 disk with mke2fs -d:
// the second changes one file and adds one.
func copyImages(t *testing.T) (v1, v2 string) {
	t.Helper()
	testenv.NeedTools(t, "mke2fs")
	dir := t.TempDir()
	for version := 1; version <= 2; version++ {
		tree := filepath.Join(dir, fmt.Sprint("tree", version))
		rng := rand.New(rand.NewSource(5))
		for i := range 8 {
			b := make([]byte, 1<<20+rng.Intn(1<<20))
			rng.Read(b)
			if version == 2 && i == 2 {
				copy(b[5000:], bytes.Repeat([]byte("v2 "), 30000))
			}
			os.MkdirAll(filepath.Join(tree, "d"), 0o755)
			if err := os.WriteFile(filepath.Join(tree, "d", fmt.Sprint("f", i)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if version == 2 {
			b := make([]byte, 2<<20)
			rng.Read(b)
			os.WriteFile(filepath.Join(tree, "added"), b, 0o644)
		}
		img := filepath.Join(dir, fmt.Sprint("v", version, ".img"))
		sh(t, "mke2fs", "-q", "-F", "-t", "ext4", "-d", tree, img, "40M")
		if version == 1 {
			v1 = img
		} else {
			v2 = img
		}
	}
	return v1, v2
}

// copySource is a repository (256 KiB chunks) with two points of web01.
func copySource(t *testing.T) (repo, v1, v2 string) {
	t.Helper()
	v1, v2 = copyImages(t)
	repo = newRepo(t)
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", "2026-11-20T01:00:00Z", "disk0="+v1)
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", "2026-11-21T01:00:00Z", "disk0="+v2)
	return repo, v1, v2
}

func initRepo(t *testing.T, chunkSize string) string {
	repo := filepath.Join(t.TempDir(), "repo")
	mustRun(t, repo, "init", "--chunk-size", chunkSize)
	return repo
}

func copyJSON(t *testing.T, from, to string, env []string, args ...string) ingest.CopyStats {
	t.Helper()
	r := run(t, "", env, append([]string{"copy", "--from", from, "--to", to, "--json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("copy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var st ingest.CopyStats
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("copy --json: %v\n%s", err, r.stdout)
	}
	return st
}

// expectCopied checks that dst's two web01 points read back as the images.
func expectCopied(t *testing.T, dst, v1, v2 string) {
	t.Helper()
	for point, img := range map[string]string{"2026-11-20T01:00:00Z": v1, "2026-11-21T01:00:00Z": v2} {
		if !bytes.Equal(catDisk(t, dst, "web01", point, "disk0"), readFile(t, img)) {
			t.Fatalf("point %s reads back wrong in the destination", point)
		}
	}
}

// dataChunks returns the stored size of every data chunk the points of
// the (closed) repository reference.
func dataChunks(t *testing.T, dir string) map[catalog.ChunkID]int64 {
	t.Helper()
	ctx := context.Background()
	r, err := catalog.Open(ctx, dir, catalog.Options{Command: "test", ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sizes := map[string]int64{}
	r.Backend().List(ctx, "data/", func(name string, size int64) error { sizes[name] = size; return nil })
	out := map[catalog.ChunkID]int64{}
	ps, err := r.Points("")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		for i := range p.Disks {
			m, err := r.OpenDiskMap(ctx, p, &p.Disks[i])
			if err != nil {
				t.Fatal(err)
			}
			err = m.Extents(ctx, 0, m.Size(), func(e catalog.Extent) error {
				if !e.ID.IsZero() {
					out[e.ID] = sizes[e.ID.ObjectName()]
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

// knownBytes sums the sizes of the chunks of want the (closed) repository
// in dir knows.
func knownBytes(t *testing.T, dir string, want map[catalog.ChunkID]int64) (n int64) {
	t.Helper()
	r, err := catalog.Open(context.Background(), dir, catalog.Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w := r.NewWriter()
	for id, size := range want {
		if ok, err := w.Known(id); err != nil {
			t.Fatal(err)
		} else if ok {
			n += size
		}
	}
	return n
}

// TestCopyResumesAfterKill kills real copies at several moments (during
// the first point's data, after its commit, at the second point's
// manifest; map-level and re-cut); each re-run sends exactly the data
// chunks the killed run had not made known, and the copied points read
// back as the images.
func TestCopyResumesAfterKill(t *testing.T) {
	src, v1, v2 := copySource(t)
	env := []string{"VMARCHIVE_CHECKPOINT_BYTES=1048576"}
	type reference struct {
		all   map[catalog.ChunkID]int64
		total int64
	}
	refs := map[string]reference{} // by chunk size: an uninterrupted copy
	for _, c := range []struct{ chunkSize, moment string }{
		{"256KiB", "checkpoint:3"},
		{"256KiB", "copy-point:1"},
		{"256KiB", "manifest-durable:2"},
		{"1MiB", "checkpoint:4"},
	} {
		t.Run(c.chunkSize+"-"+c.moment, func(t *testing.T) {
			ref, ok := refs[c.chunkSize]
			if !ok {
				dir := initRepo(t, c.chunkSize)
				full := copyJSON(t, src, dir, env)
				ref.all = dataChunks(t, dir)
				for _, n := range ref.all {
					ref.total += n
				}
				if full.BytesSent != ref.total || full.PointsCopied != 2 {
					t.Fatalf("uninterrupted copy: %+v; want 2 points, %d bytes sent", full, ref.total)
				}
				refs[c.chunkSize] = ref
			}
			all, total := ref.all, ref.total

			dst := initRepo(t, c.chunkSize)
			cmd := exec.Command(vmarchiveBin(t), "copy", "--from", src, "--to", dst)
			cmd.Env = append(append(os.Environ(), env...), "VMARCHIVE_CRASHPOINT="+c.moment)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("copy was not killed at %s: %v\n%s", c.moment, err, out)
			}
			arrived := knownBytes(t, dst, all)
			if arrived == 0 {
				t.Fatalf("killed at %s: nothing recorded as arrived", c.moment)
			}
			again := copyJSON(t, src, dst, env)
			if again.BytesSent != total-arrived {
				t.Errorf("re-run sent %d bytes; want %d (all %d, %d arrived before the kill)", again.BytesSent, total-arrived, total, arrived)
			}
			t.Logf("%s: %d of %d bytes arrived before the kill, re-run sent %d", c.moment, arrived, total, again.BytesSent)
			expectCopied(t, dst, v1, v2)
			if out := mustRun(t, dst, "verify"); !strings.Contains(out, "0 problems") {
				t.Fatalf("verify after re-run: %s", out)
			}
		})
	}
}

// TestCopyThroughMount: with the destination mounted the copy runs in the
// mount's process and the new points appear in the mount; with the source
// mounted it runs in the source's; with both mounted it says so.
func TestCopyThroughMount(t *testing.T) {
	testenv.NeedFUSE(t)
	src, v1, v2 := copySource(t)

	dst := initRepo(t, "256KiB")
	mnt, _ := startMount(t, dst)
	r := run(t, "", nil, "copy", "--from", src, "--to", dst)
	if r.code != 0 || !strings.Contains(r.stdout, "copied 2 points") {
		t.Fatalf("copy into a mounted destination: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	img := filepath.Join(mnt, "web01", "2026-11-21T01:00:00Z", "disk0.img")
	if got, err := os.ReadFile(img); err != nil || !bytes.Equal(got, readFile(t, v2)) {
		t.Fatalf("copied point in the destination's mount: %v", err)
	}

	dst2 := initRepo(t, "1MiB")
	startMount(t, src)
	r = run(t, "", nil, "copy", "--from", src, "--to", dst2, "--vm", "web01")
	if r.code != 0 || !strings.Contains(r.stdout, "copied 2 points") || !strings.Contains(r.stdout, "re-cut") {
		t.Fatalf("copy from a mounted source: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	expectCopied(t, dst2, v1, v2)

	dst3 := initRepo(t, "256KiB")
	startMount(t, dst3)
	r = run(t, "", nil, "copy", "--from", src, "--to", dst3)
	if r.code != 2 || !strings.Contains(r.stderr, "both repositories are held") {
		t.Fatalf("copy between two mounted repositories: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
