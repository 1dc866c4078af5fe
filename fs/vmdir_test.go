package fs

import (
	"context"
	"log"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// manifestCounter counts the manifests the tree reads.
type manifestCounter struct {
	*catalog.Repo
	n atomic.Int64
}

func (c *manifestCounter) Point(vm, name string) (*catalog.Manifest, error) {
	c.n.Add(1)
	return c.Repo.Point(vm, name)
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestVMDirReadsNoManifest: listing a VM (and its .compare) and stat-ing
// its points (ls -l) reads no manifest; the first look inside a point reads its one. Points
// committed and forgotten while mounted appear and disappear.
func TestVMDirReadsNoManifest(t *testing.T) {
	testenv.NeedFUSE(t)
	r := catalog.TestRepo(t)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	name := func(h int) string { return catalog.FormatPointTime(at(h)) }
	for h := range 3 {
		catalog.TestWritePoint(t, r, "web01", at(h), map[string][]byte{"disk0": []byte("point data")})
	}
	arch := &manifestCounter{Repo: r}
	mnt := t.TempDir()
	srv, err := Mount(arch, mnt, Options{Logger: log.New(testWriter{t}, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			LazyUnmount(mnt)
		}
	})
	vm := filepath.Join(mnt, "web01")
	if got, want := dirNames(t, vm), []string{name(0), name(1), name(2), "latest"}; !slices.Equal(got, want) {
		t.Fatalf("web01 lists %q, want %q", got, want)
	}
	for h := range 3 {
		fi, err := os.Lstat(filepath.Join(vm, name(h)))
		if err != nil || !fi.IsDir() || !fi.ModTime().Equal(at(h)) {
			t.Fatalf("stat of point %s: %v %v", name(h), fi, err)
		}
	}
	if got, want := dirNames(t, filepath.Join(vm, ".compare")), []string{name(0) + ".." + name(1), name(1) + ".." + name(2)}; !slices.Equal(got, want) {
		t.Fatalf(".compare lists %q, want %q", got, want)
	}
	if n := arch.n.Load(); n != 0 {
		t.Fatalf("listing web01 and its .compare and stat-ing its points read %d manifests", n)
	}
	if _, err := os.Lstat(filepath.Join(vm, name(5))); !os.IsNotExist(err) {
		t.Fatalf("stat of a point that is not there: %v", err)
	}
	if got, want := dirNames(t, filepath.Join(vm, name(1))), []string{"config", "disk0", "disk0.img"}; !slices.Equal(got, want) {
		t.Fatalf("point lists %q, want %q", got, want)
	}
	if n := arch.n.Load(); n != 1 {
		t.Fatalf("opening one point read %d manifests", n)
	}

	catalog.TestWritePoint(t, r, "web01", at(3), map[string][]byte{"disk0": []byte("new point")})
	if err := r.Forget(context.Background(), "web01", []time.Time{at(0)}); err != nil {
		t.Fatal(err)
	}
	if got, want := dirNames(t, vm), []string{name(1), name(2), name(3), "latest"}; !slices.Equal(got, want) {
		t.Fatalf("after a commit and a forget web01 lists %q, want %q", got, want)
	}
	waitFor(t, func() bool { l, _ := os.Readlink(filepath.Join(vm, "latest")); return l == name(3) })
	if b, err := os.ReadFile(filepath.Join(vm, name(3), "disk0.img")); err != nil || string(b) != "new point" {
		t.Fatalf("new point's disk: %q %v", b, err)
	}
}
