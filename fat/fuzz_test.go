package fat

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

func readSeed(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			tb.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			tb.Fatal(err)
		}
	}
	return b
}

// FuzzBPB decodes boot sectors (and FSInfo sectors) and checks that an
// accepted one yields a layout that stays inside int64 arithmetic.
func FuzzBPB(f *testing.F) {
	for _, s := range []string{"boot-fat12.bin", "boot-fat16-4k.bin", "boot-fat32.bin", "fsinfo-fat32.bin"} {
		f.Add(readSeed(f, s))
	}
	f.Add(readSeed(f, "tiny12.img.gz")[:512])
	f.Add(readSeed(f, "tiny32.img.gz")[:512])
	f.Fuzz(func(t *testing.T, p []byte) {
		parseFSInfo(p)
		b, err := parseBootSector(p)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error without ErrCorrupt: %v", err)
			}
			return
		}
		l, err := newLayout(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error without ErrCorrupt: %v", err)
			}
			return
		}
		switch {
		case l.fatBits != 12 && l.fatBits != 16 && l.fatBits != 32:
			t.Fatalf("FAT%d", l.fatBits)
		case l.clusters == 0 || l.clusters > maxFAT32Clusters:
			t.Fatalf("%d clusters", l.clusters)
		case l.fatBits == 12 && l.clusters > maxFAT12Clusters:
			t.Fatalf("FAT12 with %d clusters", l.clusters)
		case l.dataOffset <= 0 || l.dataEnd() <= l.dataOffset || l.fatOffset+l.fatSize > l.dataOffset:
			t.Fatalf("layout %+v", l)
		case int64(l.clusters)+2 > l.fatSize*8/int64(l.fatBits):
			t.Fatalf("%d clusters but the FAT holds %d entries", l.clusters, l.fatSize*8/int64(l.fatBits))
		case l.fatBits == 32 && !l.validCluster(l.rootCluster):
			t.Fatalf("root cluster %d", l.rootCluster)
		}
	})
}

// FuzzDirEntries assembles names from raw directory bytes.
func FuzzDirEntries(f *testing.F) {
	for _, s := range []string{"dir-root-fat32.bin", "dir-sub-fat32.bin"} {
		f.Add(readSeed(f, s))
	}
	img := readSeed(f, "tiny12.img.gz")
	f.Add(img[0x1000 : 0x1000+512]) // not a directory: must not matter
	f.Fuzz(func(t *testing.T, p []byte) {
		ents, _ := parseDir(p)
		last := -1
		for _, e := range ents {
			switch {
			case e.name == "" || e.name == "." || e.name == "..":
				t.Fatalf("name %q", e.name)
			case strings.ContainsAny(e.name, "/\x00") || !utf8.ValidString(e.name):
				t.Fatalf("name %q is not a valid path component", e.name)
			case e.slot <= last || e.slot >= len(p)/dirEntrySize:
				t.Fatalf("slot %d after %d in %d bytes", e.slot, last, len(p))
			case !e.e.isLive() || e.e.isDot():
				t.Fatalf("entry %+v is not a live name", e.e)
			}
			last = e.slot
		}
	})
}

// zeroPadded reads b followed by zeros up to size bytes.
type zeroPadded struct {
	b    []byte
	size int64
}

func (z zeroPadded) ReadAt(p []byte, off int64) (int, error) {
	if off >= z.size {
		return 0, io.EOF
	}
	n := len(p)
	if rest := z.size - off; int64(n) > rest {
		n = int(rest)
	}
	k := 0
	if off < int64(len(z.b)) {
		k = copy(p[:n], z.b[off:])
	}
	clear(p[k:n])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// tinySeed splits a tiny image into its bytes up to the last non-zero
// sector and the count of zero sectors after them, so the fuzzer mutates
// (and minimizes) only the part that holds anything.
func tinySeed(tb testing.TB, name string) ([]byte, uint16) {
	img := readSeed(tb, name)
	end := len(bytes.TrimRight(img, "\x00"))
	end = (end + 511) / 512 * 512
	return img[:end], uint16((len(img) - end) / 512)
}

// FuzzOpenWalk opens a mutated tiny image (its non-zero prefix, then pad
// zero sectors) and reads everything in it.
func FuzzOpenWalk(f *testing.F) {
	for _, s := range []string{"tiny12.img.gz", "tiny32.img.gz"} {
		prefix, pad := tinySeed(f, s)
		f.Add(prefix, pad)
	}
	f.Fuzz(func(t *testing.T, prefix []byte, pad uint16) {
		fs, err := Open(zeroPadded{prefix, int64(len(prefix)) + int64(pad)*512}, int64(len(prefix))+int64(pad)*512, nil)
		if err != nil {
			return
		}
		fs.Info()
		fs.Allocated()
		fs.CountFree()
		nodes, _ := walk(fs, 2000)
		buf := make([]byte, 64<<10)
		for p, n := range nodes {
			if e, err := fs.Lookup(fs.Root(), p); err == nil && e.Name == "" {
				t.Fatalf("lookup %q: empty name", p)
			}
			fs.ListXattr(n.Ino)
			if _, err := fs.GetXattr(n.Ino, "user.x"); !errors.Is(err, iofs.ErrNotExist) {
				t.Fatalf("getxattr: %v", err)
			}
			f, err := fs.Open(n.Ino)
			if err != nil {
				continue
			}
			ext, _ := f.Extents()
			var covered int64
			for _, e := range ext {
				if e.Logical != covered || e.Length <= 0 {
					t.Fatalf("%s: extents %v", p, ext)
				}
				covered += e.Length
			}
			if covered != f.Size() {
				t.Fatalf("%s: extents cover %d of %d bytes", p, covered, f.Size())
			}
			for off := int64(0); off < f.Size(); off += int64(len(buf)) {
				if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
					break
				}
			}
		}
	})
}

// TestTinySeed checks that the committed FAT12 seed reads as TSK reads it,
// so FuzzOpenWalk starts from a volume whose files are reachable.
func TestTinySeed(t *testing.T) {
	testenv.NeedTools(t, "fls", "icat")
	img := filepath.Join(t.TempDir(), "tiny12.img")
	if err := os.WriteFile(img, readSeed(t, "tiny12.img.gz"), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := openImage(t, img, nil)
	nodes := mustWalk(t, fs)
	want := fls(t, img)
	checkNamesFls(t, nodes, want, 5)
	for p, n := range nodes {
		if n.Mode&modeDir != 0 {
			continue
		}
		got, err := readAll(fs, n.Ino)
		if err != nil || string(got) != tool(t, "icat", img, want[p].ino) {
			t.Errorf("%s: %v, content differs from icat", p, err)
		}
	}
}
