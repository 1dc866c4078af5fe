package xfs

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"math/bits"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestHashLookup looks up every name of every block, leaf, node and
// B+tree directory through the hash index on a volume with nothing
// listed, and a missing name next to each; no directory may be listed
// (read whole) to answer. The collisions image holds 600 names of one
// hash, more than a leaf block holds, among 600 others.
func TestHashLookup(t *testing.T) {
	for _, v := range []string{"v5", "v5-1k", "v4", "v4-512", "collisions"} {
		t.Run(v, func(t *testing.T) {
			var img string
			if v == "collisions" {
				img = collisionImage(t)
			} else {
				img = testImage(t, v)
			}
			tree := walk(t, openImage(t, img, nil))
			fs := openImage(t, img, nil)
			dirs := map[string]uint64{}
			for p, e := range tree {
				d, ok := tree[filepath.Dir(p)]
				if filepath.Dir(p) == "/" {
					d, ok = DirEntry{Ino: fs.Root(), Mode: sIFDIR}, true
				}
				in, err := fs.inode(d.Ino)
				if err != nil {
					t.Fatal(err)
				}
				if !ok || in.format == fmtLocal {
					continue
				}
				dirs[filepath.Dir(p)] = d.Ino
				name := filepath.Base(p)
				if got, err := fs.Lookup(d.Ino, name); err != nil || got != e {
					t.Fatalf("Lookup %s = %+v, %v; listing %+v", p, got, err, e)
				}
				if _, err := fs.Lookup(d.Ino, name+"~"); !errors.Is(err, iofs.ErrNotExist) {
					t.Fatalf("Lookup %s~: %v, want not found", p, err)
				}
			}
			big := 0
			for p, ino := range dirs {
				if _, listed := fs.dirs.get(ino); listed {
					t.Errorf("%s was listed to answer a lookup", p)
				}
				if in, _ := fs.inode(ino); in.size > uint64(fs.info.DirBlock) {
					big++
				}
			}
			if big == 0 {
				t.Fatalf("no leaf or node directory among %d", len(dirs))
			}
		})
	}
}

// collidingNames returns n 8-letter names with the hash of "abcdefgh":
// the hash of two 4-byte groups g1, g2 (7 bits a letter) is
// g2 ^ rol(g1, 28), so each g1 has one g2.
func collidingNames(n int) []string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	ok := func(c uint32) bool { return strings.IndexByte(letters, byte(c)) >= 0 }
	want := daHashName([]byte("abcdefgh"))
	var out []string
	for i := 0; len(out) < n && i < len(letters)*len(letters)*len(letters)*len(letters); i++ {
		g := []byte{letters[i%62], letters[i/62%62], letters[i/3844%62], letters[i/238328%62]}
		g1 := uint32(g[0])<<21 | uint32(g[1])<<14 | uint32(g[2])<<7 | uint32(g[3])
		g2 := want ^ bits.RotateLeft32(g1, 28)
		if g2>>28 != 0 || !ok(g2>>21&0x7f) || !ok(g2>>14&0x7f) || !ok(g2>>7&0x7f) || !ok(g2&0x7f) {
			continue
		}
		out = append(out, string(g)+string([]byte{byte(g2 >> 21 & 0x7f), byte(g2 >> 14 & 0x7f), byte(g2 >> 7 & 0x7f), byte(g2 & 0x7f)}))
	}
	return out
}

// collisionImage makes a v5 volume with mkfs.xfs -p: one directory of
// colliding and ordinary names.
func collisionImage(t *testing.T) string {
	testenv.NeedTools(t, "mkfs.xfs")
	dir := t.TempDir()
	names := collidingNames(600)
	if len(names) < 600 {
		t.Fatalf("only %d colliding names", len(names))
	}
	for _, n := range names {
		if daHashName([]byte(n)) != daHashName([]byte("abcdefgh")) {
			t.Fatalf("%q does not collide", n)
		}
	}
	for i := 0; i < 600; i++ {
		names = append(names, fmt.Sprintf("other-%d", i))
	}
	var proto strings.Builder
	proto.WriteString("/dev/null\n0 0\nd--755 0 0\ndir d--755 0 0\n")
	for _, n := range names {
		fmt.Fprintf(&proto, " %s ---644 0 0 /dev/null\n", n)
	}
	proto.WriteString(" $\n$\n")
	pf, img := filepath.Join(dir, "proto"), filepath.Join(dir, "c.img")
	if err := os.WriteFile(pf, []byte(proto.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if f, err := os.Create(img); err != nil || f.Truncate(300<<20) != nil || f.Close() != nil {
		t.Fatalf("create %s: %v", img, err)
	}
	if out, err := exec.Command("mkfs.xfs", "-q", "-f", "-p", pf, img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.xfs: %v %s", err, out)
	}
	return img
}

// TestDaHashName checks xfs_da_hashname against values xfs_db prints
// (hash NAME) for names of each length remainder.
func TestDaHashName(t *testing.T) {
	testenv.NeedTools(t, "xfs_db")
	img := collisionImage(t)
	for _, n := range []string{"a", "ab", "abc", "abcd", "abcdefgh", "entry-with-a-long-name-17", "ünïcödé"} {
		out, err := exec.Command("xfs_db", "-r", "-c", "hash "+n, img).CombinedOutput()
		if err != nil {
			t.Fatalf("xfs_db hash %s: %v %s", n, err, out)
		}
		var want uint32
		if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "0x%x", &want); err != nil {
			t.Fatalf("xfs_db hash %s: %q", n, out)
		}
		if got := daHashName([]byte(n)); got != want {
			t.Errorf("daHashName(%q) = %#x, xfs_db %#x", n, got, want)
		}
	}
}
