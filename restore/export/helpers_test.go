package export

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// testDiskSize is 32 MiB and 7 sectors: the last cluster, grain and
// block of every format are partial.
const testDiskSize = 32<<20 + 7*512

// archived is a point of a disk made by mke2fs, and the disk's bytes.
type archived struct {
	repo *catalog.Repo
	p    *catalog.Manifest
	raw  string // the point's disk as a file, for qemu-img compare
	data []byte
}

// newArchived builds an ext4 filesystem of 20 MiB with files (mke2fs -d)
// at the start of a disk, random bytes across its partial last 4 KiB,
// zeros in between, and ingests it.
func newArchived(t *testing.T) *archived {
	t.Helper()
	testenv.NeedTools(t, "mke2fs", "qemu-img")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "etc"), 0o755)
	os.WriteFile(filepath.Join(tree, "etc", "hostname"), []byte("web01\n"), 0o644)
	os.WriteFile(filepath.Join(tree, "random.bin"), randBytes(2<<20+12345), 0o644)
	os.WriteFile(filepath.Join(tree, "text.txt"), bytes.Repeat([]byte("a line of text\n"), 20000), 0o644)
	img := filepath.Join(dir, "disk.raw")
	run(t, "mke2fs", "-q", "-F", "-t", "ext4", "-d", tree, img, "20M")
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(testDiskSize)
	f.WriteAt(randBytes(7*512), testDiskSize-7*512)
	f.WriteAt(randBytes(100<<10), 26<<20+4096) // an island of data in the zeros
	f.Close()
	d, err := image.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	a := &archived{repo: catalog.TestRepo(t), raw: img}
	a.p, err = ingest.Ingest(context.Background(), a.repo, ingest.Options{VM: "web01", Time: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)},
		[]ingest.DiskSpec{{Name: "disk0", Disk: d, Source: img, Format: d.Format()}})
	if err != nil {
		t.Fatal(err)
	}
	if a.data, err = os.ReadFile(img); err != nil {
		t.Fatal(err)
	}
	return a
}

func (a *archived) source(t *testing.T) Source {
	t.Helper()
	src, err := Disk(context.Background(), a.repo, a.p, "disk0", 0)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}
