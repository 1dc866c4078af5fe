package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// runLimited runs vmarchive like run, but a command still running after a
// minute is killed and fails the test: a hang is a defect, not a slow test.
func runLimited(t *testing.T, repo string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, vmarchiveBin(t), args...)
	cmd.Env = append(os.Environ(), "VMARCHIVE_REPO="+repo, "HOME="+t.TempDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("vmarchive %s hung (killed after a minute)\n%s", strings.Join(args, " "), errb.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if s := errb.String(); strings.Contains(s, "panic") || strings.Contains(s, "goroutine ") {
		t.Fatalf("vmarchive %s crashed:\n%s", strings.Join(args, " "), s)
	}
	return result{out.String(), errb.String(), code}
}

// randomDisk writes n random bytes to a new raw image.
func randomDisk(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	p := filepath.Join(t.TempDir(), "disk.raw")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDamagedCatalogIsAnError flips bytes in the data blocks of the
// catalog's sst files: every command says which file is damaged and to run
// catalog rebuild, without a panic; rebuild then brings the point back.
func TestDamagedCatalogIsAnError(t *testing.T) {
	repo := newRepo(t)
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", "2026-11-20T01:00:00Z", "d0="+randomDisk(t, 1<<20))
	mustRun(t, repo, "gc") // a writable open flushes the log into sst files
	ssts, _ := filepath.Glob(filepath.Join(repo, "catalog", "*.sst"))
	if len(ssts) == 0 {
		t.Fatal("no sst file in the catalog after ingest and gc")
	}
	for _, p := range ssts {
		b := readFile(t, p)
		for i := 40; i < 48 && i < len(b); i++ { // inside the first data block
			b[i] ^= 0xff
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"points"}, {"check"}, {"verify"}, {"find", "web01", "*"}, {"ingest", "--vm", "web01", "d0=" + randomDisk(t, 4096)}} {
		r := runLimited(t, repo, args...)
		if r.code == 0 || !strings.Contains(r.stderr, "catalog rebuild") || !strings.Contains(r.stderr, ".sst") {
			t.Errorf("vmarchive %s: exit %d, want an error naming the damaged sst file and catalog rebuild:\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	mustRun(t, repo, "catalog", "rebuild")
	if out := mustRun(t, repo, "points"); !strings.Contains(out, "2026-11-20T01:00:00Z") {
		t.Fatalf("points after rebuild:\n%s", out)
	}
}

// smallTmpfs mounts a tmpfs of size bytes for the test (root only).
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	testenv.NeedRoot(t) // mount -t tmpfs
	dir := t.TempDir()
	sh(t, "mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir)
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir
}

// fill writes a file until the filesystem of dir has less than 4 KiB free.
func fill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	return p
}

// TestFullDiskIsAnError runs the writing commands on a full tmpfs: each
// fails with exit 2 naming the full path, points still lists, nothing
// hangs; once space is freed the repository verifies and ingests again.
func TestFullDiskIsAnError(t *testing.T) {
	repo := filepath.Join(smallTmpfs(t, "12m"), "repo")
	mustRun(t, repo, "init", "--chunk-size", "256KiB")
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", "2026-11-20T01:00:00Z", "d0="+randomDisk(t, 1<<20))
	filler := fill(t, filepath.Dir(repo))
	writes := [][]string{
		{"ingest", "--vm", "web01", "--point-time", "2026-11-21T01:00:00Z", "d0=" + randomDisk(t, 2<<20)},
		{"forget", "--vm", "web01", "--point", "2026-11-20T01:00:00Z"},
		{"gc"},
	}
	for _, args := range writes {
		r := runLimited(t, repo, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "no space left on device") || !strings.Contains(r.stderr, repo) {
			t.Errorf("vmarchive %s on a full disk: exit %d, want 2 and a message naming the path:\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	if r := runLimited(t, repo, "points"); r.code != 0 || !strings.Contains(r.stdout, "2026-11-20T01:00:00Z") || strings.Contains(r.stdout, "2026-11-21") {
		t.Errorf("points on a full disk: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if r := runLimited(t, repo, "verify"); r.code != 0 {
		t.Fatalf("verify after freeing space: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", "2026-11-21T01:00:00Z", "d0="+randomDisk(t, 2<<20))
	if out := mustRun(t, repo, "verify"); !strings.Contains(out, "2 points") {
		t.Fatalf("verify after a later ingest:\n%s", out)
	}
}

// TestDamagedCatalogUnderMount damages the catalog under a running mount:
// listing fails with EIO and a forwarded command gets the message, but the
// mount process lives on (pebble's corruption used to panic it).
func TestDamagedCatalogUnderMount(t *testing.T) {
	testenv.NeedFUSE(t)
	repo := newRepo(t)
	mustRun(t, repo, "ingest", "--vm", "web01", "--no-index", "--point-time", "2026-11-20T01:00:00Z", "d0="+randomDisk(t, 1<<20))
	mustRun(t, repo, "gc") // flush the log into sst files
	mnt := t.TempDir()
	mount := exec.Command(vmarchiveBin(t), "mount", mnt)
	mount.Env = append(os.Environ(), "VMARCHIVE_REPO="+repo)
	var mlog lockedBuffer // written by the output copier while the test reads it
	mount.Stderr = &mlog
	if err := mount.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mount.Process.Signal(syscall.SIGTERM)
		mount.Wait()
	})
	for i := 0; !strings.Contains(mlog.String(), "mounted"); i++ {
		if i > 200 {
			t.Fatalf("mount did not come up:\n%s", mlog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	ssts, _ := filepath.Glob(filepath.Join(repo, "catalog", "*.sst"))
	for _, p := range ssts {
		b := readFile(t, p)
		for i := 40; i < 48 && i < len(b); i++ {
			b[i] ^= 0xff
		}
		os.WriteFile(p, b, 0o600)
	}
	if _, err := os.ReadDir(mnt); err == nil {
		t.Fatal("listing the mount over a damaged catalog succeeded")
	}
	r := runLimited(t, repo, "points")
	if r.code != 2 || !strings.Contains(r.stderr, "catalog rebuild") {
		t.Errorf("points through the mount: exit %d\n%s", r.code, r.stderr)
	}
	if err := mount.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the mount process died:\n%s", mlog.String())
	}
	if _, err := os.Stat(mnt); err != nil {
		t.Fatalf("the mount is dead: %v", err)
	}
	if strings.Contains(mlog.String(), "panic") {
		t.Fatalf("the mount panicked:\n%s", mlog.String())
	}
}
