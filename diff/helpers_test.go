package diff_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// needFUSE skips (fails under CI) without root and /dev/fuse.
func needFUSE(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "FUSE mounts of the test images need root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		testenv.Missing(t, "no /dev/fuse")
	}
}

// imagesDir is testimages/diff in this checkout.
func imagesDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testimages", "diff")
}

// tool runs a command and returns its standard output.
func tool(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// buildPair runs testimages/diff/<kind>-pair.sh into a new directory.
func buildPair(t testing.TB, kind string) string {
	t.Helper()
	dir := t.TempDir()
	tool(t, "bash", filepath.Join(imagesDir(), kind+"-pair.sh"), dir)
	return dir
}

// mountTree makes partition 1 of disk readable at a new directory with
// testimages/diff/mount.sh, unmounted when the test ends.
func mountTree(t testing.TB, kind, disk string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tree")
	tool(t, "bash", filepath.Join(imagesDir(), "mount.sh"), kind, disk, dir)
	if kind != "fat" {
		t.Cleanup(func() {
			if out, err := exec.Command("fusermount", "-u", dir).CombinedOutput(); err != nil {
				t.Errorf("fusermount -u %s: %v\n%s", dir, err, out)
			}
		})
	}
	return dir
}

// ingestDisk ingests a raw disk image as disk0 of a point of VM "vm".
func ingestDisk(t testing.TB, repo *catalog.Repo, path string, when time.Time) *catalog.Manifest {
	t.Helper()
	d, err := image.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	m, err := ingest.Ingest(context.Background(), repo, ingest.Options{VM: "vm", Time: when},
		[]ingest.DiskSpec{{Name: "disk0", Disk: d, Source: path}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
