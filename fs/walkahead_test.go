package fs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestWalkAhead: a walk of a directory's small files reads ahead the
// directory a depth-first walk enters next, and its first subdirectory:
// the next sibling not listed yet, else the next one of an ancestor.
func TestWalkAhead(t *testing.T) {
	testenv.NeedTools(t, "mke2fs")
	testenv.NeedFUSE(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	for _, f := range []string{"a/x/f0", "a/x/f1", "a/x/f2", "a/y/f0", "a/y/f1", "b/z/f0", "b/z/f1"} {
		p := filepath.Join(src, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("content of "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img := filepath.Join(dir, "ext4.img")
	sh(t, "mke2fs", "-q", "-F", "-t", "ext4", "-d", src, img, "8M")
	r := catalog.TestRepo(t)
	ingestImage(t, r, "vm1", t0, map[string]string{"disk0": img})

	var mu sync.Mutex
	var got []uint64
	aheadHook = func(ino uint64) {
		mu.Lock()
		got = append(got, ino)
		mu.Unlock()
	}
	t.Cleanup(func() { aheadHook = nil })
	old := walkWindow
	walkWindow = time.Hour // a busy machine must not end the walk
	t.Cleanup(func() { walkWindow = old })
	mnt, _ := mountRepo(t, r, Options{})
	root := filepath.Join(mnt, "vm1/latest/disk0/fs")
	ino := func(p string) uint64 {
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(root, p), &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	// The mount's listing order (os.ReadDir sorts; the walk does not).
	names := func(d string) []string {
		t.Helper()
		f, err := os.Open(filepath.Join(root, d))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		n, err := f.Readdirnames(-1)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	top, inA := names(""), names("a")
	// The directory after a in the root: b or lost+found.
	next := top[slices.Index(top, "a")+1:]
	wantAhead := func(sofar []uint64, walked string) []uint64 {
		if walked == inA[0] {
			return append(sofar, ino("a/"+inA[1])) // the next sibling
		}
		if len(next) > 0 { // the parent's next sibling, and down
			sofar = append(sofar, ino(next[0]))
			if next[0] == "b" {
				sofar = append(sofar, ino("b/z"))
			}
		}
		return sofar
	}
	walk := func(d string, want []uint64) {
		t.Helper()
		if _, err := os.ReadDir(filepath.Join(root, d)); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"f0", "f1"} {
			if got := readFile(t, filepath.Join(root, d, f)); string(got) != "content of "+d+"/"+f {
				t.Fatalf("%s/%s reads %q", d, f, got)
			}
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			g := slices.Clone(got)
			mu.Unlock()
			if len(g) >= len(want) {
				time.Sleep(50 * time.Millisecond) // nothing more
				mu.Lock()
				g = slices.Clone(got)
				mu.Unlock()
				if fmt.Sprint(g) != fmt.Sprint(want) {
					t.Fatalf("after walking %s, read ahead %v, want %v", d, g, want)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after walking %s, read ahead %v in 30 s, want %v", d, g, want)
			}
		}
	}
	want := wantAhead(nil, inA[0])
	walk("a/"+inA[0], want)
	want = wantAhead(want, inA[1])
	walk("a/"+inA[1], want)
	walk("b/z", want) // nothing after it is not listed yet but lost+found, read ahead or not
}
