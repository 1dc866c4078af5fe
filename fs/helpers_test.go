package fs

import (
	"context"
	"log"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

func script(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testimages", name)
}

func sh(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// refDisk builds the reference tree (version ver) and a GPT+ext4 disk of it.
func refDisk(t testing.TB, ver string) (tree, disk string) {
	t.Helper()
	testenv.NeedTools(t, "sgdisk", "mke2fs", "setfattr", "setfacl")
	dir := t.TempDir()
	tree, disk = filepath.Join(dir, "tree"), filepath.Join(dir, "disk.raw")
	sh(t, "bash", script("reftree.sh"), tree, ver)
	sh(t, "bash", script("disk-from-tree.sh"), tree, disk, "96")
	return tree, disk
}

func ingestImage(t testing.TB, r *catalog.Repo, vm string, when time.Time, disks map[string]string) *catalog.Manifest {
	t.Helper()
	var specs []ingest.DiskSpec
	for name, path := range disks {
		d, err := image.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		specs = append(specs, ingest.DiskSpec{Name: name, Disk: d, Source: path, Format: d.Format()})
	}
	m, err := ingest.Ingest(context.Background(), r, ingest.Options{VM: vm, Time: when}, specs)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// mountRepo mounts r in a temporary directory until the test ends.
func mountRepo(t testing.TB, r *catalog.Repo, opts Options) (string, *fuse.Server) {
	t.Helper()
	testenv.NeedFUSE(t)
	mnt := t.TempDir()
	if opts.Logger == nil {
		opts.Logger = log.New(testWriter{t}, "", 0)
	}
	srv, err := Mount(r, mnt, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			LazyUnmount(mnt)
		}
	})
	return mnt, srv
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

var t0 = time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
