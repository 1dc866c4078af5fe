package guestfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// cyclePair builds testimages/cycle/pair.sh's disks into a new directory.
func cyclePair(t *testing.T) string {
	t.Helper()
	testenv.NeedTools(t, "sgdisk", "mke2fs", "debugfs", "mkfs.fat", "mmd", "mcopy", "fls", "istat", "fsstat")
	_, file, _, _ := runtime.Caller(0)
	dir := t.TempDir()
	script := filepath.Join(filepath.Dir(file), "..", "testimages", "cycle", "pair.sh")
	if b, err := exec.Command("bash", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, b)
	}
	return dir
}

// volumeFS opens partition 1 of a disk image.
func volumeFS(t *testing.T, img string) FS {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	d, err := OpenDisk(f, st.Size(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range d.Volumes {
		if v.Name == "p1" && v.FS != nil {
			return v.FS
		}
	}
	t.Fatalf("%s: no filesystem in p1", img)
	return nil
}

type walked struct {
	paths []string
	errs  map[string]error
}

func walkAll(t *testing.T, fs FS, lim Limits) walked {
	t.Helper()
	w := walked{errs: map[string]error{}}
	err := Walk(context.Background(), fs, lim, func(p string, e DirEntry) error {
		w.paths = append(w.paths, p)
		return nil
	}, func(p string, err error) {
		if w.errs[p] != nil {
			t.Errorf("%s: second error %v after %v", p, err, w.errs[p])
		}
		w.errs[p] = err
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestWalkCycle walks ext4 and FAT volumes whose /a/b/loop is /a again
// (debugfs link; a FAT entry given /a's cluster): the walk ends, names
// /a/b/loop once, reports it as a cycle back to /a and lists nothing
// below it; the clean twin walks with no error. Then the limits.
func TestWalkCycle(t *testing.T) {
	dir := cyclePair(t)
	t.Run("limits", func(t *testing.T) { walkLimits(t, dir) })
	for _, kind := range []string{"ext4", "fat"} {
		t.Run(kind, func(t *testing.T) {
			clean := walkAll(t, volumeFS(t, filepath.Join(dir, kind+"-a.raw")), Limits{})
			if len(clean.errs) != 0 {
				t.Errorf("clean volume: errors %v", clean.errs)
			}
			w := walkAll(t, volumeFS(t, filepath.Join(dir, kind+"-b.raw")), Limits{})
			for _, p := range w.paths {
				if strings.HasPrefix(p, "/a/b/loop/") {
					t.Errorf("walked below the cycle: %s", p)
				}
			}
			for _, p := range []string{"/", "/a", "/a/b", "/a/b/f.txt", "/a/b/loop", "/top.txt"} {
				if !slices.Contains(w.paths, p) {
					t.Errorf("%s not walked: %q", p, w.paths)
				}
			}
			err := w.errs["/a/b/loop"]
			if len(w.errs) != 1 || !errors.Is(err, ErrCycle) || !strings.Contains(err.Error(), `cycle: the same directory as its ancestor "/a"`) {
				t.Errorf("errors %v, want one cycle at /a/b/loop back to /a", w.errs)
			}
		})
	}
}

// walkLimits bounds depth and entries, and goes on past a directory that
// cannot be read.
func walkLimits(t *testing.T, dir string) {
	fs := volumeFS(t, filepath.Join(dir, "ext4-a.raw"))
	w := walkAll(t, fs, Limits{MaxDepth: 1})
	if err := w.errs["/a/b"]; len(w.errs) != 1 || !errors.Is(err, ErrTooDeep) || slices.Contains(w.paths, "/a/b/f.txt") {
		t.Errorf("depth 1: errors %v, paths %q", w.errs, w.paths)
	}
	w = walkAll(t, fs, Limits{MaxEntries: 2})
	if len(w.errs) != 1 || !errors.Is(w.errs["/"], ErrTooMany) || len(w.paths) != 1 {
		t.Errorf("2 entries: errors %v, paths %q", w.errs, w.paths)
	}
	a, err := fs.Lookup(fs.Root(), "a")
	if err != nil {
		t.Fatal(err)
	}
	w = walkAll(t, failDir{fs, a.Ino}, Limits{})
	if !strings.Contains(fmt.Sprint(w.errs["/a"]), "read directory: broken") || len(w.errs) != 1 ||
		!slices.Contains(w.paths, "/top.txt") || !slices.Contains(w.paths, "/a") || slices.Contains(w.paths, "/a/b") {
		t.Errorf("unreadable /a: errors %v, paths %q", w.errs, w.paths)
	}
}

// failDir fails to list one directory.
type failDir struct {
	FS
	bad uint64
}

func (f failDir) ReadDir(ino uint64) ([]DirEntry, error) {
	if ino == f.bad {
		return nil, errors.New("broken")
	}
	return f.FS.ReadDir(ino)
}
