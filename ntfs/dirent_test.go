package ntfs

import (
	"errors"
	iofs "io/fs"
	"slices"
	"strings"
	"testing"
)

// TestBadDirEntries lists /d of testimages/ntfs/damaged.sh, which holds g1,
// g2 and five damaged index entries (a "/" in a name, an empty name, a NUL
// in a name, a reference past $MFT, a symlink whose record is broken):
// the good names are listed and read, each bad one is left out and noted
// once, and the directory is marked as having lost entries.
func TestBadDirEntries(t *testing.T) {
	needTools(t, "fsstat", "ifind", "istat", "fls", "od", "dd")
	fs := openImage(t, buildImage(t, "damaged.sh"), nil)
	d, err := fs.Lookup(recordRoot, "d")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		ents, err := fs.ReadDir(d.Ino)
		if err != nil {
			t.Fatalf("ReadDir: %v", err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name)
		}
		if !slices.Equal(names, []string{"g1", "g2"}) {
			t.Fatalf("ReadDir lists %q, want g1 and g2", names)
		}
	}
	for _, n := range []string{"g1", "g2"} {
		e, err := fs.Lookup(d.Ino, n)
		if err != nil {
			t.Fatal(err)
		}
		f, err := fs.Open(e.Ino)
		if err != nil {
			t.Fatal(err)
		}
		if b := readAllFile(t, f); string(b) != n+"\n" {
			t.Errorf("%s reads %q", n, b)
		}
	}
	for _, n := range []string{"far", "lnk"} {
		if _, err := fs.Lookup(d.Ino, n); !errors.Is(err, iofs.ErrNotExist) {
			t.Errorf("Lookup of the damaged entry %s: %v, want ErrNotExist", n, err)
		}
	}
	dmg := strings.Join(fs.Damage(), "\n")
	for _, w := range []string{`entry "s/s"`, `name contains "/"`, `entry ""`, "empty name", `entry "n\x00n"`, "NUL",
		`entry "far" (MFT record 281474976710655) skipped: MFT record past the`, `entry "lnk"`, "corrupt"} {
		if !strings.Contains(dmg, w) {
			t.Errorf("Damage does not say %q:\n%s", w, dmg)
		}
	}
	if n := len(fs.Damage()); n != 5 {
		t.Errorf("Damage has %d notes, want 5 (each once):\n%s", n, dmg)
	}
	if !fs.DirDamaged(d.Ino) || fs.DirDamaged(recordRoot) {
		t.Errorf("DirDamaged: d %v, root %v; want true, false", fs.DirDamaged(d.Ino), fs.DirDamaged(recordRoot))
	}
}
