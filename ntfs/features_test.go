package ntfs

import (
	"errors"
	iofs "io/fs"
	"testing"
)

// lookupPath resolves a slash path from the root.
func lookupPath(t *testing.T, fsys *FS, path string) (DirEntry, error) {
	t.Helper()
	de := DirEntry{Ino: fsys.Root(), Mode: sIFDIR}
	start := 1
	for i := 1; i <= len(path); i++ {
		if i == len(path) || path[i] == '/' {
			var err error
			if de, err = fsys.Lookup(de.Ino, path[start:i]); err != nil {
				return de, err
			}
			start = i + 1
		}
	}
	return de, nil
}

// TestImageFeatures checks that the test image really has the structures
// the comparisons are meant to cover, and the lookup rules.
func TestImageFeatures(t *testing.T) {
	img := buildImage(t, "basic.sh")
	fsys := openImage(t, img, nil)
	get := func(p string) (DirEntry, *inode) {
		de, err := lookupPath(t, fsys, p)
		if err != nil {
			t.Fatalf("lookup %s: %v", p, err)
		}
		n, err := fsys.inode(de.Ino)
		if err != nil {
			t.Fatal(err)
		}
		return de, n
	}
	t.Run("attribute list from 50 hard links", func(t *testing.T) {
		de, n := get("/links/target")
		if n.find(atAttributeList, "") == nil {
			t.Error("no $ATTRIBUTE_LIST")
		}
		at, _ := fsys.Stat(de.Ino)
		if at.Nlink != 50 {
			t.Errorf("nlink %d, want 50", at.Nlink)
		}
		other, _ := get("/links/sub/name-with-a-longish-suffix-37")
		if other.Ino != de.Ino {
			t.Errorf("hard link inode %d, want %d", other.Ino, de.Ino)
		}
	})
	t.Run("streams", func(t *testing.T) {
		de, _ := get("/ads.txt")
		names, err := fsys.ListXattr(de.Ino)
		if err != nil || len(names) != 71 {
			t.Errorf("%d streams (%v), want 71", len(names), err)
		}
	})
	t.Run("compression and sparseness", func(t *testing.T) {
		for _, p := range []string{"/comp/text.txt", "/comp/mixed.bin", "/comp/sparse-comp.bin"} {
			_, n := get(p)
			if a := n.find(atData, ""); a == nil || a.Resident || a.Flags&attrCompressionMask == 0 {
				t.Errorf("%s is not compressed", p)
			}
		}
		_, n := get("/sparse.bin")
		a := n.find(atData, "")
		sparse := 0
		for _, r := range a.Runs {
			if r.LCN == sparseLCN {
				sparse++
			}
		}
		if sparse == 0 {
			t.Error("sparse.bin has no sparse run")
		}
		de, _ := get("/sparse.bin")
		f, _ := fsys.Open(de.Ino)
		ext, err := f.Extents()
		var total int64
		for _, e := range ext {
			total += e.Length
		}
		if err != nil || total == 0 || total >= f.Size()/4 {
			t.Errorf("sparse.bin extents cover %d of %d bytes (%v)", total, f.Size(), err)
		}
	})
	t.Run("multi-level index", func(t *testing.T) {
		de, _ := get("/many")
		_, ix, err := fsys.dirIndex(de.Ino)
		if err != nil {
			t.Fatal(err)
		}
		if ix.alloc == nil || ix.root[0].Child < 0 {
			t.Error("many/ has a single-level index")
		}
		ents, err := fsys.ReadDir(de.Ino)
		if err != nil || len(ents) != 600 {
			t.Errorf("many/ lists %d entries (%v), want 600", len(ents), err)
		}
	})
	t.Run("lookup", func(t *testing.T) {
		cases := []struct {
			path string
			want string // on-disk name, "" for not found
		}{
			{"/case.txt", "case.txt"},
			{"/CASE.txt", "CASE.txt"},
			{"/Case.Txt", "Case.Txt"},
			{"/CaSe.TxT", ""}, // POSIX names are case sensitive
			{"/small.txt", "small.txt"},
			{"/Long File Name With Spaces.text", "Long File Name With Spaces.text"},
			{"/LONG FILE NAME WITH SPACES.TEXT", "Long File Name With Spaces.text"}, // Win32 name
			{"/LONGFI~1.TEX", "LONGFI~1.TEX"},                                       // DOS alias: openable
			{"/longfi~1.tex", "LONGFI~1.TEX"},
			{"/日本語ファイル.txt", "日本語ファイル.txt"},
			{"/emoji-😀.txt", "emoji-😀.txt"},
			{"/HÉLLO WÖRLD.TXT", ""},
			{"/deep/a/b/c/d/e/f/leaf", "leaf"},
			{"/many/entry-00417-with-some-padding", "entry-00417-with-some-padding"},
			{"/many/entry-00417-with-some-paddinX", ""},
			{"/$MFT", ""}, // records 0 and 1 are never returned, like ntfs-3g
			{"/$Volume", "$Volume"},
		}
		for _, c := range cases {
			de, err := lookupPath(t, fsys, c.path)
			switch {
			case c.want == "" && !errors.Is(err, iofs.ErrNotExist):
				t.Errorf("%s: got %q (%v), want not found", c.path, de.Name, err)
			case c.want != "" && (err != nil || de.Name != c.want):
				t.Errorf("%s: got %q (%v), want %q", c.path, de.Name, err, c.want)
			}
		}
		long, _ := lookupPath(t, fsys, "/Long File Name With Spaces.text")
		dos, _ := lookupPath(t, fsys, "/LONGFI~1.TEX")
		if long.Ino != dos.Ino {
			t.Errorf("DOS alias inode %d, long name inode %d", dos.Ino, long.Ino)
		}
	})
	t.Run("info", func(t *testing.T) {
		info := fsys.Info()
		if info.Label != "vmtest" || info.Dirty || info.Version != "3.1" || info.ClusterSize != 4096 {
			t.Errorf("Info() = %+v", info)
		}
	})
}
