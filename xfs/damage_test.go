package xfs

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDamagePerEntry damages, with xfs_db, one inode and one directory data
// block of a mkfs.xfs-made v4 image: the damaged entry's Stat (or, without
// ftype, its Lookup) fails naming the inode, the damaged block's entries are
// left out and noted, and everything else reads.
func TestDamagePerEntry(t *testing.T) {
	img := filepath.Join(t.TempDir(), "d.img")
	if out, err := exec.Command("cp", "--sparse=always", testImage(t, "v4"), img).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	fs0 := openImage(t, img, nil)
	many, err := fs0.Lookup(fs0.Root(), "many")
	if err != nil {
		t.Fatal(err)
	}
	victim, err := fs0.Lookup(many.Ino, "entry-with-a-long-name-7")
	if err != nil {
		t.Fatal(err)
	}
	hello, err := fs0.Lookup(fs0.Root(), "hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	xdb := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("xfs_db", append(append([]string{"-x"}, args...), img)...).CombinedOutput(); err != nil || strings.Contains(string(out), "not found") {
			t.Fatalf("xfs_db %v: %v %s", args, err, out)
		}
	}
	xdb("-c", "path /many", "-c", "dblock 1", "-c", "write dhdr.magic 0")
	xdb("-c", "path /many/entry-with-a-long-name-7", "-c", "write core.magic 0")

	fs := openImage(t, img, nil)
	es, err := fs.ReadDir(many.Ino)
	if err != nil {
		t.Fatalf("readdir of a directory with one damaged block: %v", err)
	}
	if len(es) == 0 || len(es) >= 1999 {
		t.Fatalf("%d entries listed, want some but not those of block 1", len(es))
	}
	if !fs.DirDamaged(many.Ino) || fs.DirDamaged(fs.Root()) {
		t.Fatalf("DirDamaged: many %v, root %v", fs.DirDamaged(many.Ino), fs.DirDamaged(fs.Root()))
	}
	notes := strings.Join(fs.Damage(), "\n")
	if !strings.Contains(notes, "block 1: magic 0") {
		t.Fatalf("damage notes %q do not name block 1", notes)
	}
	// The damaged inode: named in the error of whichever call reads it.
	_, err = fs.Lookup(many.Ino, "entry-with-a-long-name-7")
	if err == nil {
		_, err = fs.Stat(victim.Ino)
	}
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "inode ") || !strings.Contains(err.Error(), "magic") {
		t.Fatalf("damaged inode %d: %v", victim.Ino, err)
	}
	// The rest of the volume reads.
	if _, err := fs.Lookup(many.Ino, "entry-with-a-long-name-8"); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.ReadDir(fs.Root()); err != nil {
		t.Fatal(err)
	}
	if a, err := fs.Stat(hello.Ino); err != nil || a.Size == 0 {
		t.Fatalf("hello.txt: %+v %v", a, err)
	}
}
