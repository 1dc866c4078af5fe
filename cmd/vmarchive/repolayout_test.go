package main

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// runUmask runs vmarchive under umask 000 in dir.
func runUmask(t *testing.T, dir, repo string, args ...string) result {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"-c", `umask 000 && exec "$@"`, "sh", vmarchiveBin(t)}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "VMARCHIVE_REPO="+repo, "HOME="+t.TempDir())
	out, err := cmd.Output()
	r := result{stdout: string(out)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code, r.stderr = ee.ExitCode(), string(ee.Stderr)
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkPrivate fails unless every directory under repo is 0700 and every
// file 0600.
func checkPrivate(t *testing.T, repo string) {
	t.Helper()
	filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := d.Info()
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %o, want %o", p, fi.Mode().Perm(), want)
		}
		return nil
	})
}

// TestRepositoryIsPrivate: under umask 000, in a directory that was 0755,
// the repository is created and kept owner-only, and another user
// (setpriv to nobody) can list or read nothing in it.
func TestRepositoryIsPrivate(t *testing.T) {
	testenv.NeedTools(t, "setpriv")
	testenv.NeedRoot(t) // to become another user
	parent := t.TempDir()
	os.Chmod(parent, 0o755) // let nobody reach the repository itself
	repo := filepath.Join(parent, "repo")
	if err := os.Mkdir(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	disk := randomDisk(t, 1<<20)
	os.Chmod(filepath.Dir(disk), 0o755)
	for _, args := range [][]string{{"init", "--chunk-size", "256KiB"}, {"ingest", "--vm", "web01", "d0=" + disk}, {"gc"}} {
		if r := runUmask(t, parent, repo, args...); r.code != 0 {
			t.Fatalf("vmarchive %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	checkPrivate(t, repo)
	nobody := func(args ...string) {
		t.Helper()
		cmd := exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups"}, args...)...)
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("nobody ran %s:\n%s", strings.Join(args, " "), out)
		}
	}
	nobody("ls", repo)
	nobody("ls", filepath.Join(repo, "catalog"))
	nobody("cat", filepath.Join(repo, "store", "config"))
	ssts, _ := filepath.Glob(filepath.Join(repo, "catalog", "*.sst"))
	if len(ssts) == 0 {
		t.Fatal("no sst file")
	}
	nobody("cat", ssts[0])
	// The vmarchive command run by that user says why, not "no repository".
	out, _ := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", worldBin(t), "points", "--repo", repo).CombinedOutput()
	if !strings.Contains(string(out), "permission denied") || strings.Contains(string(out), "no repository") {
		t.Errorf("points as nobody: want a permission error, got:\n%s", out)
	}

	// A repository left loose (an older version, a chmod) is tightened on open.
	os.Chmod(repo, 0o755)
	os.Chmod(filepath.Join(repo, "catalog"), 0o755)
	os.Chmod(ssts[0], 0o644)
	mustRun(t, repo, "points")
	checkPrivate(t, repo)
}

// TestSymlinksInRepositoryRefused plants symlinks where commands write:
// each is refused with a message naming it, and nothing outside changes.
func TestSymlinksInRepositoryRefused(t *testing.T) {
	repo := newRepo(t)
	mustRun(t, repo, "ingest", "--vm", "web01", "--no-index", "--point-time", "2026-11-20T01:00:00Z", "d0="+randomDisk(t, 1<<20))
	outside := t.TempDir()
	target := filepath.Join(outside, "precious")
	os.WriteFile(target, []byte("precious"), 0o600)

	lock := filepath.Join(repo, "lock")
	os.Remove(lock)
	if err := os.Symlink(target, lock); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"points"}, {"gc"}, {"catalog", "rebuild"}} {
		if r := run(t, repo, nil, args...); r.code != 2 || !strings.Contains(r.stderr, lock+" is a symbolic link") {
			t.Errorf("vmarchive %s with a symlinked lock: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "precious" {
		t.Fatalf("the lock's symlink target was overwritten: %q", b)
	}
	os.Remove(lock)

	// Every store/data/<hh> without objects (init makes all 256) a symlink
	// out: any new chunk goes through one.
	data := filepath.Join(repo, "store", "data")
	planted := 0
	for i := 0; i < 256; i++ {
		p := filepath.Join(data, hex2(i))
		if err := os.Remove(p); err == nil || errors.Is(err, fs.ErrNotExist) {
			if err := os.Symlink(outside, p); err != nil {
				t.Fatal(err)
			}
			planted++
		}
	}
	if planted < 200 {
		t.Fatalf("only %d of store/data's 256 directories were empty or absent", planted)
	}
	r := run(t, repo, nil, "ingest", "--vm", "web01", "--no-index", "--point-time", "2026-11-21T01:00:00Z", "d0="+randomDisk(t, 1<<20))
	if r.code != 2 || !strings.Contains(r.stderr, "is a symbolic link") {
		t.Errorf("ingest through symlinked data dirs: exit %d\n%s", r.code, r.stderr)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("ingest wrote outside the repository: %d entries in %s", len(ents), outside)
	}
	if r := run(t, repo, nil, "gc"); r.code != 2 || !strings.Contains(r.stderr, "is a symbolic link") {
		t.Errorf("gc with symlinked data dirs: exit %d\n%s", r.code, r.stderr)
	}
}

func hex2(i int) string { return string("0123456789abcdef"[i>>4]) + string("0123456789abcdef"[i&15]) }
