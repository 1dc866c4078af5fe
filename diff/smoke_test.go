package diff

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// ingestRaw ingests a raw disk image as point t of VM "vm".
func ingestRaw(t *testing.T, repo *catalog.Repo, path string, when time.Time) *catalog.Manifest {
	t.Helper()
	d, err := image.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	m, err := ingest.Ingest(context.Background(), repo, ingest.Options{VM: "vm", Time: when}, []ingest.DiskSpec{{Name: "disk0", Disk: d, Source: path}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// writeFile writes s to p, making its directories.
func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func runTool(t *testing.T, name string, args ...string) {
	t.Helper()
	testenv.NeedTools(t, name)
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// compareBothWays runs Compare from the file indexes and by walking both
// trees, and requires the same report.
func compareBothWays(t *testing.T, repo *catalog.Repo, a, b *catalog.Manifest, opts Options) *Report {
	t.Helper()
	r, err := Compare(context.Background(), repo, a, b, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.NoIndex = true
	w, err := Compare(context.Background(), repo, a, b, opts)
	if err != nil {
		t.Fatal(err)
	}
	jr, _ := json.Marshal(r)
	jw, _ := json.Marshal(w)
	if !bytes.Equal(jr, jw) {
		t.Errorf("the report from the indexes differs from the walk's:\nindex: %s\nwalk:  %s", jr, jw)
	}
	return r
}

// TestExt4Changes compares two ext4 disks made from trees whose
// differences are known, one of each kind.
func TestExt4Changes(t *testing.T) {
	dir := t.TempDir()
	ta := filepath.Join(dir, "a")
	write := func(root, p, s string) {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(ta, "same.txt", "same")
	write(ta, "etc/hosts", "127.0.0.1 localhost\n")
	write(ta, "mode.txt", "mode")
	write(ta, "type", "was a file")
	write(ta, "big.bin", strings.Repeat("x", 300000))
	write(ta, "gone.txt", "bye")
	write(ta, "flip.txt", "same size, first byte differs")
	write(dir, "flip.txt", "Same size, first byte differs")
	write(ta, "old-name.txt", "renamed")
	write(dir, "new.txt", "hello")
	write(dir, "hosts", "127.0.0.1 localhost web01\n")
	ia, ib := filepath.Join(dir, "a.raw"), filepath.Join(dir, "b.raw")
	runTool(t, "bash", "../testimages/disk-from-tree.sh", ta, ia, "32")
	runTool(t, "cp", "--sparse=always", ia, ib)
	// B is A changed by a real writer: debugfs on the partition.
	cmds := strings.Join([]string{
		"rm /gone.txt",
		"write " + filepath.Join(dir, "new.txt") + " /new.txt",
		"rm /etc/hosts",
		"write " + filepath.Join(dir, "hosts") + " /etc/hosts",
		// debugfs leaves i_generation 0 where the kernel would pick a new
		// one: new.txt reuses gone.txt's inode and must not be a rename.
		"sif /new.txt generation 1",
		"sif /etc/hosts generation 2",
		"sif /mode.txt mode 0100600",
		"rm /flip.txt",
		"write " + filepath.Join(dir, "flip.txt") + " /flip.txt",
		"sif /flip.txt generation 3",
		"rm /type",
		"mkdir /type",
		"ln /old-name.txt /new-name.txt",
		"unlink /old-name.txt",
	}, "\n") + "\n"
	write(dir, "cmds", cmds)
	runTool(t, "debugfs", "-w", "-f", filepath.Join(dir, "cmds"), ib+"?offset=1048576")
	fixed := time.Unix(1700000000, 0)
	repo := catalog.TestRepo(t)
	ma := ingestRaw(t, repo, ia, fixed)
	mb := ingestRaw(t, repo, ib, fixed.Add(time.Hour))
	r := compareBothWays(t, repo, ma, mb, Options{Blocks: true})
	var sb strings.Builder
	WriteText(&sb, r, true)
	t.Logf("\n%s", sb.String())
	got := map[string]string{}
	hosts := "M content,size,mtime"
	for _, v := range r.Disks[0].Volumes {
		for _, c := range v.Changes {
			got[c.Path] = string(c.Status) + " " + strings.Join(c.Fields, ",")
			if c.Path == "/etc/hosts" && c.A != nil && c.B != nil && !c.A.Crtime.Equal(c.B.Crtime) {
				hosts += ",crtime" // A and B were made in different seconds
			}
		}
	}
	want := map[string]string{
		"/new-name.txt": "R ",
		"/etc/hosts":    hosts,
		"/gone.txt":     "D ",
		"/new.txt":      "A ",
		"/mode.txt":     "m mode",
		"/type":         "T type",
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: got %q, want %q", p, got[p], w)
		}
	}
	if !strings.HasPrefix(got["/flip.txt"], "M content") { // times may differ too
		t.Errorf("/flip.txt: got %q, want M content...", got["/flip.txt"])
	}
	delete(got, "/flip.txt")
	sums := map[string]string{}
	owned := map[string]bool{}
	for _, v := range r.Disks[0].Volumes {
		for _, c := range v.Changes {
			for _, e := range []*Entry{c.A, c.B} {
				if e != nil && e.SHA256 != "" {
					sums[c.Path] += e.SHA256[:8] + " "
				}
			}
		}
	}
	for _, rg := range r.Disks[0].Ranges {
		for _, o := range rg.A {
			owned["A "+string(o.Kind)+" "+o.Path] = true
		}
		for _, o := range rg.B {
			owned["B "+string(o.Kind)+" "+o.Path] = true
		}
	}
	// sha256sum of "bye", "hello", and of the old and new hosts files.
	for p, w := range map[string]string{"/gone.txt": "b49f425a ", "/new.txt": "2cf24dba ", "/etc/hosts": "081ef9d5 bfa961f1 "} {
		if sums[p] != w {
			t.Errorf("%s: sha256 prefixes %q, want %q", p, sums[p], w)
		}
	}
	for _, w := range []string{"A file /gone.txt", "B file /new.txt", "B file /etc/hosts", "A metadata ", "B metadata "} {
		if !owned[w] {
			t.Errorf("no changed block owned by %q; owners %v", w, owned)
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("unexpected change %s: %s", p, g)
		}
	}
	checkNoHash(t, repo, ma, mb, r)
}

// checkNoHash compares a and b again with NoHash: the same changes
// with the same fields as full's, and no file read to hash it.
func checkNoHash(t *testing.T, repo *catalog.Repo, a, b *catalog.Manifest, full *Report) {
	t.Helper()
	k, err := Compare(context.Background(), repo, a, b, Options{NoHash: true})
	if err != nil {
		t.Fatal(err)
	}
	list := func(r *Report, sums bool) []string {
		var l []string
		for _, d := range r.Disks {
			for _, v := range d.Volumes {
				for _, c := range v.Changes {
					l = append(l, fmt.Sprintf("%s %s %s %s", c.Status, c.Path, c.From, strings.Join(c.Fields, ",")))
					for _, e := range []*Entry{c.A, c.B} {
						if sums && e != nil && e.SHA256 != "" {
							t.Errorf("NoHash: %s was read to hash it", c.Path)
						}
					}
				}
			}
		}
		return l
	}
	if g, w := list(k, true), list(full, false); !slices.Equal(g, w) {
		t.Errorf("NoHash changes:\n%s\nwant:\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
	}
}

// TestLVMChanges changes the ext4 inside a logical volume (the LVM fixture
// of package partition, made with real lvcreate) and expects the change,
// its changed range placed in the LV and owned by the new file.
func TestLVMChanges(t *testing.T) {
	dir := t.TempDir()
	gz, err := os.ReadFile(filepath.Join("..", "partition", "testdata", "lvm.img.gz"))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	img, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	ia, ib := filepath.Join(dir, "a.raw"), filepath.Join(dir, "b.raw")
	os.WriteFile(ia, img, 0o644)
	gd, err := guestfs.OpenDisk(bytes.NewReader(img), int64(len(img)), nil)
	if err != nil {
		t.Fatal(err)
	}
	var lin1 *guestfs.Volume
	for _, v := range gd.Volumes {
		if v.Name == "lvm/vgt/lin1" {
			lin1 = v
		}
	}
	if lin1 == nil || len(lin1.Layout) != 1 {
		t.Fatalf("fixture: lvm/vgt/lin1 missing or not one piece: %+v", lin1)
	}
	os.WriteFile(ib, img, 0o644)
	os.WriteFile(filepath.Join(dir, "new.txt"), bytes.Repeat([]byte("lvm change\n"), 500), 0o644)
	runTool(t, "debugfs", "-w", "-R", "write "+filepath.Join(dir, "new.txt")+" /added.txt",
		ib+"?offset="+strconv.FormatInt(lin1.Layout[0].DiskOff, 10))

	repo := catalog.TestRepo(t)
	t0 := time.Unix(1700000000, 0)
	ma := ingestRaw(t, repo, ia, t0)
	mb := ingestRaw(t, repo, ib, t0.Add(time.Hour))
	r := compareBothWays(t, repo, ma, mb, Options{Blocks: true})
	var sb strings.Builder
	WriteText(&sb, r, true)
	out := sb.String()
	if !strings.Contains(out, "A\tdisk0/lvm/vgt/lin1/added.txt\n") {
		t.Errorf("no added file in the LV:\n%s", out)
	}
	owned := false
	for _, rg := range r.Disks[0].Ranges {
		if rg.Volume != "lvm/vgt/lin1" {
			t.Errorf("range %d+%d placed in %q, want lvm/vgt/lin1", rg.Off, rg.Len, rg.Volume)
		}
		for _, o := range rg.B {
			owned = owned || o.Kind == OwnerFile && o.Path == "/added.txt"
		}
	}
	if !owned {
		t.Errorf("no changed block owned by /added.txt in B:\n%s", out)
	}
}

// TestDiskAdded compares a point with one disk to a point that also has a
// second: the new disk is reported added, with every file in it.
func TestDiskAdded(t *testing.T) {
	dir := t.TempDir()
	tree := filepath.Join(dir, "t")
	os.MkdirAll(filepath.Join(tree, "sub"), 0o755)
	os.WriteFile(filepath.Join(tree, "sub", "f.txt"), []byte("data"), 0o644)
	img := filepath.Join(dir, "d.raw")
	runTool(t, "bash", "../testimages/disk-from-tree.sh", tree, img, "16")
	repo := catalog.TestRepo(t)
	t0 := time.Unix(1700000000, 0)
	ma := ingestRaw(t, repo, img, t0)
	d0, err := image.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer d0.Close()
	d1, err := image.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer d1.Close()
	mb, err := ingest.Ingest(context.Background(), repo, ingest.Options{VM: "vm", Time: t0.Add(time.Hour)},
		[]ingest.DiskSpec{{Name: "disk0", Disk: d0}, {Name: "disk1", Disk: d1}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Compare(context.Background(), repo, ma, mb, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	WriteText(&sb, r, false)
	want := "# disk0: 0 B changed in 0 ranges (whole chunks; --blocks narrows them)\n" +
		"# disk1: only in B (16 MiB)\n" +
		"A\tdisk1/p1/\nA\tdisk1/p1/lost+found\nA\tdisk1/p1/sub\nA\tdisk1/p1/sub/f.txt\n"
	if sb.String() != want {
		t.Errorf("got\n%s\nwant\n%s", sb.String(), want)
	}
	if r.Equal() {
		t.Error("Equal() with a disk added")
	}
}
