package timeline

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/index"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// Three points of an ext4 volume changed in place by debugfs between
// them: each vmarchive event appears exactly once, at the right points.
// change.bin's block is overwritten with the same size and times, which
// only the content key sees.
func TestEventsAcrossPoints(t *testing.T) {
	testenv.NeedTools(t, "mke2fs", "debugfs")
	dir := t.TempDir()
	tree, img := filepath.Join(dir, "tree"), filepath.Join(dir, "ext4.img")
	sh(t, "bash", script("tree.sh"), tree, "unix")
	sh(t, "mke2fs", "-q", "-F", "-t", "ext4", "-d", tree, img, "8M")
	repo := catalog.TestRepo(t)
	p1 := ingestImages(t, repo, "vm1", t0, img)
	newFile := filepath.Join(dir, "added")
	if err := os.WriteFile(newFile, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	debugfs(t, img, "zap_block -f /change.bin -p 0x41 0", "ln /rename-me.txt /renamed.txt", "unlink /rename-me.txt",
		"write "+newFile+" /added.txt")
	p2 := ingestImages(t, repo, "vm1", t0.Add(24*time.Hour), img)
	debugfs(t, img, "rm /delete-me.txt")
	p3 := ingestImages(t, repo, "vm1", t0.Add(48*time.Hour), img)
	points := []*catalog.Manifest{p1, p2, p3}

	_, evs := timelineOf(t, repo, points, "jsonl", Options{})
	var got []string
	for _, e := range evs {
		if e.Kind != File && e.Kind != Present || e.Point != p1.Name() {
			got = append(got, fmt.Sprintf("%s %s %s..%s %s", e.Kind, e.GuestPath, e.Before, e.Point, e.OldPath))
		}
	}
	n1, n2, n3 := p1.Name(), p2.Name(), p3.Name()
	want := []string{
		"changed disk0/fs/change.bin " + n1 + ".." + n2 + " ",
		"present disk0/fs/added.txt .." + n2 + " ",
		"renamed disk0/fs/renamed.txt " + n1 + ".." + n2 + " disk0/fs/rename-me.txt",
		"deleted disk0/fs/delete-me.txt " + n2 + ".." + n3 + " ",
	}
	for _, w := range want {
		if c := count(got, w); c != 1 {
			t.Errorf("%q %d times in\n%s", w, c, strings.Join(got, "\n"))
		}
	}
	// Nothing else but new versions (file events) of what changed: the
	// renamed and added files, and the directory debugfs rewrote.
	for _, g := range got {
		if !contains(want, g) && !strings.HasPrefix(g, "file disk0/fs/renamed.txt ") &&
			!strings.HasPrefix(g, "file disk0/fs/added.txt ") && !strings.HasPrefix(g, "file disk0/fs ") {
			t.Errorf("unexpected event %q", g)
		}
	}

	// --path keeps a rename when either name matches, and only that.
	p, err := index.Compile("rename-me.txt")
	if err != nil {
		t.Fatal(err)
	}
	_, evs = timelineOf(t, repo, points, "csv", Options{Path: p})
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind.String()+" "+e.GuestPath)
	}
	sort.Strings(kinds)
	if w := "file disk0/fs/rename-me.txt,file disk0/fs/renamed.txt,present disk0/fs/rename-me.txt,renamed disk0/fs/renamed.txt"; strings.Join(kinds, ",") != w {
		t.Errorf("--path rename-me.txt: %v, want %s", kinds, w)
	}
}

func debugfs(t *testing.T, img string, cmds ...string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "cmds")
	if err := os.WriteFile(f, []byte(strings.Join(cmds, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := sh(t, "debugfs", "-w", "-f", f, img)
	if strings.Contains(out, "debugfs: ") && strings.Contains(strings.ToLower(out), "error") {
		t.Fatalf("debugfs: %s", out)
	}
}

func count(l []string, s string) int {
	n := 0
	for _, x := range l {
		if x == s {
			n++
		}
	}
	return n
}

func contains(l []string, s string) bool { return count(l, s) > 0 }
