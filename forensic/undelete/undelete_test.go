package undelete

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestRunAndExtract: a file deleted with debugfs rm from an ext4 made by
// mke2fs -d is listed as recoverable with its size, and extracted byte
// for byte as icat reads it; bad names and volumes are clear errors, and
// a point without ext4 or NTFS is ErrNone.
func TestRunAndExtract(t *testing.T) {
	testenv.NeedTools(t, "mke2fs", "debugfs", "icat")
	dir := t.TempDir()
	src, img, raw := filepath.Join(dir, "src"), filepath.Join(dir, "ext4.img"), filepath.Join(dir, "raw.img")
	os.Mkdir(src, 0o755)
	data := make([]byte, 30000)
	rand.New(rand.NewSource(7)).Read(data)
	os.WriteFile(filepath.Join(src, "gone.bin"), data, 0o644)
	os.WriteFile(filepath.Join(src, "keep.txt"), []byte("kept\n"), 0o644)
	for _, c := range [][]string{
		{"mke2fs", "-q", "-F", "-t", "ext4", "-b", "1024", "-d", src, img, "4M"},
		{"debugfs", "-w", "-R", "rm /gone.bin", img},
		{"truncate", "-s", "1M", raw},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	repo := catalog.TestRepo(t)
	m := ingestImage(t, repo, "vm1", img)
	ctx := context.Background()
	var out bytes.Buffer
	if err := Run(ctx, repo, m, "", &out); err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^(ino-\d+)\trecoverable\t30000\t\S+\t\S+\t\S+\t-\t-$`).FindStringSubmatch(out.String())
	if !strings.HasPrefix(out.String(), "# deleted files of disk0/fs (ext4), 1 found\n") || line == nil {
		t.Fatalf("listing:\n%s", out.String())
	}
	var got bytes.Buffer
	if err := Extract(ctx, repo, m, "disk0", "fs", line[1], &got); err != nil {
		t.Fatal(err)
	}
	icat, err := exec.Command("icat", img, strings.TrimPrefix(line[1], "ino-")).Output()
	if err != nil || !bytes.Equal(got.Bytes(), data) || !bytes.Equal(icat, data) {
		t.Fatalf("extracted %d bytes, equal to the file: %v, to icat's %d bytes: %v (%v)", got.Len(), bytes.Equal(got.Bytes(), data), len(icat), bytes.Equal(icat, data), err)
	}
	for _, c := range []struct{ vol, name, want string }{
		{"fs", "mft-12", `want ino-N`},
		{"fs", "ino-x", `want ino-N`},
		{"fs", "ino-2", "not recoverable"},
		{"p9", "ino-12", `no volume "p9"`},
	} {
		if err := Extract(ctx, repo, m, "disk0", c.vol, c.name, &got); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Extract %s %s: %v, want an error saying %q", c.vol, c.name, err, c.want)
		}
	}
	m2 := ingestImage(t, repo, "vm2", raw)
	if err := Run(ctx, repo, m2, "", &out); !errors.Is(err, ErrNone) {
		t.Errorf("a point without ext4 or NTFS: %v, want ErrNone", err)
	}
}

func ingestImage(t *testing.T, repo *catalog.Repo, vm, img string) *catalog.Manifest {
	t.Helper()
	d, err := image.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	m, err := ingest.Ingest(context.Background(), repo, ingest.Options{VM: vm, Time: time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC), SourceKind: "image"},
		[]ingest.DiskSpec{{Name: "disk0", Disk: d, Source: img, Format: d.Format()}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
