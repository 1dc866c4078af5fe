package diff

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestUnreadableDirectory changes files in two directories of an ext4
// volume (debugfs), moves one file into each from the other, then breaks
// the checksum of /bad's only directory block in B. The changes in /good
// are reported exactly; /bad gets a "!" line naming it and point B;
// nothing under /bad is called added or deleted, nor are the moved files
// (their other half is under /bad); from the indexes and by walking both
// trees alike.
func TestUnreadableDirectory(t *testing.T) {
	testenv.NeedTools(t, "sgdisk", "mke2fs", "debugfs")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	write := func(p, s string) { writeFile(t, p, s) }
	for _, f := range []string{"good/keep.txt", "good/gone.txt", "good/mode.txt", "good/moving.txt",
		"bad/keep.txt", "bad/gone.txt", "bad/out.txt"} {
		write(filepath.Join(tree, f), f+"\n")
	}
	write(filepath.Join(dir, "new.txt"), "new\n")
	ia, ib := filepath.Join(dir, "a.raw"), filepath.Join(dir, "b.raw")
	runTool(t, "bash", "../testimages/disk-from-tree.sh", tree, ia, "16", "-b", "4096")
	runTool(t, "cp", "--sparse=always", ia, ib)
	const partOff, bs = 1 << 20, 4096
	cmds := filepath.Join(dir, "cmds")
	// Writes before removals, so that no new file takes a freed inode.
	write(cmds, strings.Join([]string{
		"write " + filepath.Join(dir, "new.txt") + " /good/new.txt",
		"write " + filepath.Join(dir, "new.txt") + " /bad/new.txt",
		"sif /good/mode.txt mode 0100600",
		"ln /good/moving.txt /bad/moving.txt",
		"unlink /good/moving.txt",
		"ln /bad/out.txt /good/out.txt",
		"unlink /bad/out.txt",
		"rm /good/gone.txt",
		"rm /bad/gone.txt",
	}, "\n")+"\n")
	runTool(t, "debugfs", "-w", "-f", cmds, ib+"?offset="+strconv.Itoa(partOff))

	out, err := exec.Command("debugfs", "-R", "blocks /bad", ib+"?offset="+strconv.Itoa(partOff)).Output()
	blocks := strings.Fields(string(out))
	if err != nil || len(blocks) != 1 {
		t.Fatalf("debugfs blocks /bad: %v, want one block: %q", err, out)
	}
	blk, _ := strconv.ParseInt(blocks[0], 10, 64)
	f, err := os.OpenFile(ib, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The last byte of the dirent tail's checksum.
	if _, err := f.WriteAt([]byte{0x5a}, partOff+(blk+1)*bs-1); err != nil {
		t.Fatal(err)
	}
	f.Close()

	repo := catalog.TestRepo(t)
	t0 := time.Unix(1700000000, 0)
	ma := ingestRaw(t, repo, ia, t0)
	mb := ingestRaw(t, repo, ib, t0.Add(time.Hour))
	r := compareBothWays(t, repo, ma, mb, Options{})
	var sb strings.Builder
	WriteText(&sb, r, false)
	text := sb.String()

	var vol *Volume
	for i := range r.Disks[0].Volumes {
		if r.Disks[0].Volumes[i].Name == "p1" {
			vol = &r.Disks[0].Volumes[i]
		}
	}
	if vol == nil {
		t.Fatalf("no volume p1:\n%s", text)
	}
	var good []string
	for _, c := range vol.Changes {
		for _, p := range []string{c.Path, c.From} {
			if strings.HasPrefix(p, "/bad/") {
				t.Errorf("change %s %s (from %q) under the unreadable directory:\n%s", c.Status, c.Path, c.From, text)
			}
		}
		if strings.HasPrefix(c.Path, "/good/") {
			good = append(good, string(c.Status)+" "+c.Path+" "+strings.Join(c.Fields, ","))
		}
	}
	// Not D /good/moving.txt nor A /good/out.txt: their other halves lie
	// under /bad in B and in A.
	want := []string{"D /good/gone.txt ", "m /good/mode.txt mode", "A /good/new.txt "}
	slices.Sort(want)
	slices.Sort(good)
	if !slices.Equal(good, want) {
		t.Errorf("changes in /good: %q, want %q\n%s", good, want, text)
	}
	if len(vol.Errors) != 1 || vol.Errors[0].Path != "/bad" || vol.Errors[0].Side != "b" ||
		!strings.Contains(vol.Errors[0].Err, "point "+mb.Name()+": read directory /bad") {
		t.Errorf("volume errors %+v, want one for /bad in point B (%s)", vol.Errors, mb.Name())
	}
	if !strings.Contains(text, "!\tdisk0/p1/bad\tpoint "+mb.Name()+": read directory /bad: ") {
		t.Errorf("no \"!\" line for disk0/p1/bad:\n%s", text)
	}
	if vol.Err != "" || r.Complete() || r.Equal() || len(r.Errors) != 1 || !strings.HasPrefix(r.Errors[0], "disk0/p1/bad: ") {
		t.Errorf("volume error %q, complete %v, equal %v, errors %q: want only disk0/p1/bad's", vol.Err, r.Complete(), r.Equal(), r.Errors)
	}
}
