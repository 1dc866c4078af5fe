package diff

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// TestInodeReuseIsNotRename deletes a file and writes an unrelated one
// that gets its inode number, with the creation time made equal (256-byte
// inodes) or not recorded at all (128-byte inodes): only the generation
// tells them apart, and the new file must be reported added, not renamed.
// A real rename (same inode, same generation) next to it stays a rename.
func TestInodeReuseIsNotRename(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mkfs   []string
		crtime bool
	}{
		{"crtime-equal", nil, true},
		{"i128-no-crtime", []string{"-I", "128"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tree := filepath.Join(dir, "tree")
			write := func(p, s string) { writeFile(t, p, s) }
			write(filepath.Join(tree, "victim.txt"), "old file\n")
			write(filepath.Join(tree, "moving.txt"), "renamed file\n")
			write(filepath.Join(dir, "unrelated.txt"), "another file\n")
			ia, ib := filepath.Join(dir, "a.raw"), filepath.Join(dir, "b.raw")
			runTool(t, "bash", append([]string{"../testimages/disk-from-tree.sh", tree, ia, "16"}, tc.mkfs...)...)
			// mke2fs -d and debugfs leave i_generation 0; the kernel gives
			// every new inode its own, as these sif commands do.
			cmdsA := []string{"sif /victim.txt generation 1111", "sif /moving.txt generation 2222"}
			cmdsB := []string{
				"rm /victim.txt",
				"write " + filepath.Join(dir, "unrelated.txt") + " /unrelated.txt",
				"sif /unrelated.txt generation 3333",
				"ln /moving.txt /moved.txt",
				"unlink /moving.txt",
			}
			if tc.crtime {
				cmdsA = append(cmdsA, "sif /victim.txt crtime @1700000000")
				cmdsB = append(cmdsB, "sif /unrelated.txt crtime @1700000000")
			}
			debugfsW := func(img string, cmds []string) {
				t.Helper()
				f := filepath.Join(dir, "cmds")
				write(f, strings.Join(cmds, "\n")+"\n")
				runTool(t, "debugfs", "-w", "-f", f, img+"?offset=1048576")
			}
			debugfsW(ia, cmdsA)
			runTool(t, "cp", "--sparse=always", ia, ib)
			debugfsW(ib, cmdsB)

			repo := catalog.TestRepo(t)
			t0 := time.Unix(1700000000, 0)
			ma := ingestRaw(t, repo, ia, t0)
			mb := ingestRaw(t, repo, ib, t0.Add(time.Hour))
			r := compareBothWays(t, repo, ma, mb, Options{})
			got := map[string]Change{}
			for _, v := range r.Disks[0].Volumes {
				for _, c := range v.Changes {
					got[c.Path] = c
				}
			}
			gone, added, moved := got["/victim.txt"], got["/unrelated.txt"], got["/moved.txt"]
			if added.Status == Renamed {
				t.Fatalf("/unrelated.txt reported renamed from %s: inode %d, was %d", added.From, added.B.Ino, added.A.Ino)
			}
			if gone.A == nil || added.B == nil {
				t.Fatalf("no D /victim.txt and A /unrelated.txt in %+v", got)
			}
			// The trap is set: the same inode number and creation time.
			if gone.A.Ino != added.B.Ino || !gone.A.Crtime.Equal(added.B.Crtime) {
				t.Fatalf("fixture: /unrelated.txt is inode %d born %v, /victim.txt was %d born %v",
					added.B.Ino, added.B.Crtime, gone.A.Ino, gone.A.Crtime)
			}
			if gone.Status != Deleted || added.Status != Added {
				t.Errorf("/victim.txt %s, /unrelated.txt %s (from %q): want D and A", gone.Status, added.Status, added.From)
			}
			if moved.Status != Renamed || moved.From != "/moving.txt" {
				t.Errorf("/moved.txt: %s from %q, want R from /moving.txt", moved.Status, moved.From)
			}
			if len(got) != 3 {
				t.Errorf("changes %+v, want only these three", got)
			}
		})
	}
}
