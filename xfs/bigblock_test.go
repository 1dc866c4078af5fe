package xfs

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestBlockSize64K reads a mkfs.xfs -b size=65536 image (the kernel here
// cannot mount it) made from a protofile, checked against xfs_db.
func TestBlockSize64K(t *testing.T) {
	testenv.NeedTools(t, "mkfs.xfs", "xfs_db")
	dir := t.TempDir()
	var proto strings.Builder
	proto.WriteString("/dev/null\n0 0\nd--755 0 0\ndir d--755 0 0\n")
	for i := 1; i <= 300; i++ {
		src := filepath.Join(dir, fmt.Sprintf("f%d", i))
		if err := os.WriteFile(src, []byte(fmt.Sprintf("file %d\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&proto, " a-long-name-for-entry-%d ---644 0 0 %s\n", i, src)
	}
	proto.WriteString(" $\n$\n")
	pf, img := filepath.Join(dir, "proto"), filepath.Join(dir, "x.img")
	if err := os.WriteFile(pf, []byte(proto.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if f, err := os.Create(img); err != nil || f.Truncate(600<<20) != nil || f.Close() != nil {
		t.Fatalf("create %s: %v", img, err)
	}
	if out, err := exec.Command("mkfs.xfs", "-q", "-f", "-b", "size=65536", "-p", pf, img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.xfs: %v %s", err, out)
	}
	out, err := exec.Command("xfs_db", "-r", "-c", "path /dir/a-long-name-for-entry-77", "-c", "print core.size", img).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "core.size = 8") {
		t.Fatalf("xfs_db: %v %s", err, out)
	}
	fs := openImage(t, img, nil)
	if bs := fs.Info().BlockSize; bs != 65536 {
		t.Fatalf("block size %d", bs)
	}
	d, err := fs.Lookup(fs.Root(), "dir")
	if err != nil {
		t.Fatal(err)
	}
	if es, err := fs.ReadDir(d.Ino); err != nil || len(es) != 300 {
		t.Fatalf("readdir: %d entries, %v", len(es), err)
	}
	e, err := fs.Lookup(d.Ino, "a-long-name-for-entry-77")
	if err != nil {
		t.Fatal(err)
	}
	f, err := fs.Open(e.Ino)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(io.NewSectionReader(f, 0, f.Size()))
	if err != nil || string(b) != "file 77\n" {
		t.Fatalf("read: %q %v", b, err)
	}
}
