package guestfs

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
	"github.com/vmarchive/vmarchive/ntfs"
)

// TestGen checks that Attr.Gen carries ext4's i_generation (set with
// debugfs, as mke2fs -d leaves it 0) and the NTFS record sequence number,
// and is 0 on FAT.
func TestGen(t *testing.T) {
	t.Run("ext4", func(t *testing.T) {
		testenv.NeedTools(t, "mke2fs", "debugfs")
		img := filepath.Join(t.TempDir(), "fs.img")
		src := t.TempDir()
		if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, c := range [][]string{
			{"mke2fs", "-q", "-F", "-t", "ext4", "-d", src, img, "8M"},
			{"debugfs", "-w", "-R", "sif /f generation 3000000000", img},
		} {
			if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", c, err, out)
			}
		}
		b, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		fs := openFS(t, b)
		e, err := fs.Lookup(fs.Root(), "f")
		if err != nil {
			t.Fatal(err)
		}
		if a, err := fs.Stat(e.Ino); err != nil || a.Gen != 3000000000 {
			t.Errorf("Stat /f: Gen %d, %v; want 3000000000", a.Gen, err)
		}
	})
	t.Run("ntfs", func(t *testing.T) {
		b := gunzip(t, filepath.Join("..", "ntfs", "testdata", "tiny.img.gz"))
		fs := openFS(t, b)
		nfs, err := ntfs.Open(bytes.NewReader(b), int64(len(b)), nil)
		if err != nil {
			t.Fatal(err)
		}
		nonzero := 0
		for p, ino := range walk(t, fs) {
			a, err := fs.Stat(ino)
			if err != nil {
				t.Fatalf("Stat %s: %v", p, err)
			}
			w, err := nfs.Stat(ino)
			if err != nil {
				t.Fatalf("ntfs Stat %s: %v", p, err)
			}
			if a.Gen != uint64(w.Seq) {
				t.Errorf("%s: Gen %d, record sequence number %d", p, a.Gen, w.Seq)
			}
			if a.Gen != 0 {
				nonzero++
			}
		}
		if nonzero == 0 {
			t.Error("every Gen is 0")
		}
	})
	t.Run("vfat", func(t *testing.T) {
		fs := openFS(t, gunzip(t, filepath.Join("..", "fat", "testdata", "tiny12.img.gz")))
		for p, ino := range walk(t, fs) {
			if a, err := fs.Stat(ino); err != nil || a.Gen != 0 {
				t.Errorf("Stat %s: Gen %d, %v; FAT records none", p, a.Gen, err)
			}
		}
	})
}

// openFS opens the filesystem of an unpartitioned disk image.
func openFS(t *testing.T, b []byte) FS {
	t.Helper()
	d, err := OpenDisk(bytes.NewReader(b), int64(len(b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Volumes) != 1 || d.Volumes[0].FS == nil {
		t.Fatalf("volumes %+v", d.Volumes)
	}
	return d.Volumes[0].FS
}

func gunzip(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip %s: %v", path, err)
	}
	return b
}
