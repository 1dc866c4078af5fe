package ext4

import (
	"errors"
	iofs "io/fs"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// damagedImage runs testimages/ext4/damaged.sh: /d holds good-1, good-2
// and four damaged entries ("slash/name", an empty name, "nul\x00name",
// "faraway" with inode 16777215), each reported by e2fsck.
func damagedImage(t testing.TB, variant string) string {
	t.Helper()
	testenv.NeedTools(t, "mke2fs", "debugfs", "e2fsck", "tune2fs", "dd", "grep")
	img := filepath.Join(t.TempDir(), variant+".img")
	script := filepath.Join(filepath.Dir(buildScript(t)), "damaged.sh")
	if out, err := exec.Command("bash", script, img, variant).CombinedOutput(); err != nil {
		t.Fatalf("damaged.sh %s: %v\n%s", variant, err, out)
	}
	return img
}

// TestBadDirEntries lists a directory with four damaged entries: the good
// ones are listed and found, each bad one is skipped and noted once.
func TestBadDirEntries(t *testing.T) {
	for _, v := range []string{"ext4", "ext4-csum", "ext2"} {
		t.Run(v, func(t *testing.T) {
			img := damagedImage(t, v)
			fs := openImage(t, img, nil)
			d := lookupPath(t, fs, "d")
			for range 2 {
				ents, err := fs.ReadDir(d)
				if err != nil {
					t.Fatalf("ReadDir: %v", err)
				}
				var names []string
				for _, e := range ents {
					names = append(names, e.Name)
				}
				sort.Strings(names)
				if strings.Join(names, ",") != "good-1,good-2" {
					t.Fatalf("ReadDir lists %q, want good-1 and good-2", names)
				}
			}
			for _, n := range []string{"good-1", "good-2"} {
				f, err := fs.Open(lookupPath(t, fs, "d/"+n))
				b := make([]byte, 7)
				if err != nil {
					t.Fatal(err)
				}
				f.ReadAt(b, 0)
				if string(b) != n+"\n" {
					t.Errorf("%s reads %q", n, b)
				}
			}
			if _, err := fs.Lookup(d, "faraway"); !errors.Is(err, iofs.ErrNotExist) {
				t.Errorf("Lookup of the out-of-range entry: %v", err)
			}
			dmg := fs.Damage()
			want := []string{`"slash/name"`, `name contains "/"`, "empty name", `"nul\x00name"`, "NUL byte", `"faraway"`, "inode 16777215", "out of range 1-64"}
			for _, w := range want {
				if !strings.Contains(strings.Join(dmg, "\n"), w) {
					t.Errorf("Damage does not say %q:\n%s", w, strings.Join(dmg, "\n"))
				}
			}
			if len(dmg) != 4 {
				t.Errorf("Damage has %d notes, want 4 (each once):\n%s", len(dmg), strings.Join(dmg, "\n"))
			}
			if !fs.DirDamaged(d) || fs.DirDamaged(RootIno) {
				t.Errorf("DirDamaged: d %v, root %v; want true, false", fs.DirDamaged(d), fs.DirDamaged(RootIno))
			}
			for _, n := range dmg {
				if !strings.HasPrefix(n, "directory 12: logical block 0: entry ") {
					t.Errorf("note does not say where: %q", n)
				}
			}
		})
	}
}
