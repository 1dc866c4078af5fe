package diff

import (
	"bytes"
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

// TestDamagedDirectoryEntry changes files in /d and /good of an ext4
// volume (debugfs), then turns the name of /d/slashXname into "slash/name"
// in B with dd at the offset debugfs's block map gives, so that B's reader
// leaves that entry out. The entry is not called deleted; /d gets a "!"
// line naming it and point B; a name only in A under /d (it may be the
// damaged one) is not called deleted either, while a name only in B is
// added and the names in both are still compared; /good is exact. From the
// indexes and by walking both trees alike.
func TestDamagedDirectoryEntry(t *testing.T) {
	testenv.NeedTools(t, "sgdisk", "mke2fs", "debugfs")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	for _, f := range []string{"good/keep.txt", "good/gone.txt", "d/keep.txt", "d/slashXname", "d/old.txt"} {
		writeFile(t, filepath.Join(tree, f), f+"\n")
	}
	writeFile(t, filepath.Join(dir, "new.txt"), "new\n")
	ia, ib := filepath.Join(dir, "a.raw"), filepath.Join(dir, "b.raw")
	runTool(t, "bash", "../testimages/disk-from-tree.sh", tree, ia, "16", "-b", "4096", "-O", "^metadata_csum")
	runTool(t, "cp", "--sparse=always", ia, ib)
	const partOff, bs = 1 << 20, 4096
	img := ib + "?offset=" + strconv.Itoa(partOff)
	cmds := filepath.Join(dir, "cmds")
	writeFile(t, cmds, strings.Join([]string{
		"write " + filepath.Join(dir, "new.txt") + " /d/new.txt",
		"sif /d/keep.txt mode 0100600",
		"rm /good/gone.txt",
		"rm /d/old.txt",
	}, "\n")+"\n")
	runTool(t, "debugfs", "-w", "-f", cmds, img)

	out, err := exec.Command("debugfs", "-R", "blocks /d", img).Output()
	blocks := strings.Fields(string(out))
	if err != nil || len(blocks) != 1 {
		t.Fatalf("debugfs blocks /d: %v, want one block: %q", err, out)
	}
	blk, _ := strconv.ParseInt(blocks[0], 10, 64)
	b, err := os.ReadFile(ib)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(b[partOff+blk*bs:][:bs], []byte("slashXname"))
	if at < 0 {
		t.Fatalf("slashXname not in /d's block %d", blk)
	}
	f, err := os.OpenFile(ib, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("/"), partOff+blk*bs+int64(at)+5); err != nil {
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
	vol := &r.Disks[0].Volumes[0]
	var got []string
	for _, c := range vol.Changes {
		got = append(got, string(c.Status)+" "+c.Path+" "+strings.Join(c.Fields, ","))
	}
	want := []string{"A /d/new.txt ", "D /good/gone.txt ", "m /d/keep.txt mode"}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("changes %q, want %q\n%s", got, want, text)
	}
	if len(vol.Errors) != 1 || vol.Errors[0].Path != "/d" || vol.Errors[0].Side != "b" {
		t.Errorf("volume errors %+v, want one for /d in point B", vol.Errors)
	}
	if !strings.Contains(text, "!\tdisk0/p1/d\tpoint "+mb.Name()+": read directory /d: damaged entries left out of the listing\n") {
		t.Errorf("no \"!\" line for disk0/p1/d:\n%s", text)
	}
	if r.Complete() {
		t.Errorf("report complete despite the damaged directory:\n%s", text)
	}
}
