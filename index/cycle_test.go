package index

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestBuildCycle indexes ext4 and FAT volumes whose /a/b/loop is /a again
// (testimages/cycle/pair.sh): the build ends, /a/b/loop is in the index
// as not listed, nothing below it is, and a warning names it as a cycle.
func TestBuildCycle(t *testing.T) {
	testenv.NeedTools(t, "sgdisk", "mke2fs", "debugfs", "mkfs.fat", "mmd", "mcopy", "fls", "istat", "fsstat")
	dir := t.TempDir()
	run(t, "bash", scriptPath("cycle/pair.sh"), dir)
	repo := catalog.TestRepo(t)
	for i, kind := range []string{"ext4", "fat"} {
		m := ingestImage(t, repo, kind, t0, filepath.Join(dir, kind+"-b.raw"))
		ix, err := Build(context.Background(), repo, m)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		v := ix.Volume("disk0", "p1")
		var paths []string
		for _, e := range v.Entries() {
			paths = append(paths, e.Path)
			if e.Path == "/a/b/loop" && !e.ListFailed {
				t.Errorf("%s: /a/b/loop not marked as not listed", kind)
			}
			if strings.HasPrefix(e.Path, "/a/b/loop/") {
				t.Errorf("%s: %s indexed below the cycle", kind, e.Path)
			}
		}
		want := []string{"/", "/a", "/a/b", "/a/b/f.txt", "/a/b/loop", "/top.txt"}
		if i == 0 {
			want = append(want, "/lost+found")
		}
		slices.Sort(want)
		if !slices.Equal(paths, want) {
			t.Errorf("%s: paths %q, want %q", kind, paths, want)
		}
		w := `/a/b/loop: directory cycle: the same directory as its ancestor "/a"`
		if len(v.Warnings) != 1 || !strings.HasPrefix(v.Warnings[0], w) {
			t.Errorf("%s: warnings %q, want one starting %q", kind, v.Warnings, w)
		}
	}
}
