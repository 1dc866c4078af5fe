package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestExportCommand exports a point of an mke2fs disk through stdout (a
// pipe) as raw and VMDK and to a file as qcow2, each compared with the
// disk by qemu-img; then, with a chunk deleted from the store, fails
// naming the point, disk and offset and leaves no file.
func TestExportCommand(t *testing.T) {
	testenv.NeedTools(t, "mke2fs", "qemu-img")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(tree, 0o755)
	rnd := make([]byte, 2<<20)
	for i := range rnd {
		rnd[i] = byte(i*7919 + i>>9) // incompressible enough to be the largest chunks
	}
	os.WriteFile(filepath.Join(tree, "data.bin"), rnd, 0o644)
	img := filepath.Join(dir, "disk.raw")
	sh(t, "mke2fs", "-q", "-F", "-t", "ext4", "-d", tree, img, "16M")
	os.Truncate(img, 24<<20)
	repo := newRepo(t)
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", "2026-11-20T10:00:00Z", "disk0="+img)

	for _, f := range []string{"raw", "vmdk"} {
		out := mustRun(t, repo, "export", "--vm", "web01", "--disk", "disk0", "--format", f, "-")
		p := filepath.Join(dir, "stdout."+f)
		os.WriteFile(p, []byte(out), 0o600)
		sh(t, "qemu-img", "compare", "-f", "raw", "-F", f, img, p)
	}
	q := filepath.Join(dir, "out", "web01.qcow2")
	os.Mkdir(filepath.Dir(q), 0o700)
	mustRun(t, repo, "export", "--vm", "web01", "--point", "2026-11-20T10:00:00Z", "--disk", "disk0", "--format", "qcow2", "-o", q)
	sh(t, "qemu-img", "check", q)
	sh(t, "qemu-img", "compare", "-f", "raw", "-F", "qcow2", img, q)
	if fi, err := os.Stat(q); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("export file: %v %v, want mode 0600", fi, err)
	}
	os.Remove(q)

	removeLargestObject(t, repo)
	r := run(t, repo, nil, "export", "--vm", "web01", "--disk", "disk0", "--format", "qcow2", "-o", q)
	want := regexp.MustCompile(`web01/2026-11-20T10:00:00Z disk disk0 at offset \d+: .*not found`)
	if r.code != 2 || !want.MatchString(r.stderr) {
		t.Errorf("export with a chunk missing: exit %d, stderr %q; want 2 and %s", r.code, r.stderr, want)
	}
	if left, _ := os.ReadDir(filepath.Dir(q)); len(left) != 0 {
		t.Errorf("failed export left %v", left)
	}
}

// removeLargestObject deletes the largest object of the store: a chunk
// of data, never a map block or manifest.
func removeLargestObject(t *testing.T, repo string) {
	t.Helper()
	var big string
	var size int64
	filepath.WalkDir(filepath.Join(repo, "store", "data"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil && fi.Size() > size {
				big, size = p, fi.Size()
			}
		}
		return nil
	})
	if big == "" || os.Remove(big) != nil {
		t.Fatal("no object to remove")
	}
}
