package diff_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/diff"
	"github.com/vmarchive/vmarchive/index"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestOwnersUnmappedFile damages the extent tree block of a fragmented
// ext4 file (made with mke2fs -d and debugfs punch; the block's checksum
// broken by a raw write) and rewrites one of its data blocks. In B the
// file's extents cannot be read, so neither its changed data block nor
// the damaged tree block may be called filesystem metadata: both are
// unknown, with a note naming the file, and the volume says so.
func TestOwnersUnmappedFile(t *testing.T) {
	testenv.NeedTools(t, "sgdisk", "mke2fs", "debugfs")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(tree, 0o755)
	data := make([]byte, 64*4096)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	os.WriteFile(filepath.Join(tree, "frag.bin"), data, 0o644)
	os.WriteFile(filepath.Join(tree, "small.txt"), []byte("small\n"), 0o644)
	ia, ib := filepath.Join(dir, "a.raw"), filepath.Join(dir, "b.raw")
	tool(t, "bash", filepath.Join(imagesDir(), "..", "disk-from-tree.sh"), tree, ia, "32", "-b", "4096")
	const partOff, bs = 1 << 20, 4096
	// Holes in every other block: more extents than the inode holds, so
	// they move to a tree block.
	var punch strings.Builder
	for b := 1; b < 16; b += 2 {
		punch.WriteString("punch /frag.bin " + strconv.Itoa(b) + " " + strconv.Itoa(b) + "\n")
	}
	cmds := filepath.Join(dir, "punch.cmd")
	os.WriteFile(cmds, []byte(punch.String()), 0o644)
	tool(t, "debugfs", "-w", "-f", cmds, ia+"?offset="+strconv.Itoa(partOff))
	st := tool(t, "debugfs", "-R", "stat /frag.bin", ia+"?offset="+strconv.Itoa(partOff))
	etb := regexp.MustCompile(`\(ETB0\):(\d+)`).FindStringSubmatch(st)
	last := regexp.MustCompile(`\(16-63\):(\d+)-\d+`).FindStringSubmatch(st)
	if etb == nil || last == nil {
		t.Fatalf("debugfs stat /frag.bin: no extent tree block or no run of blocks 16-63:\n%s", st)
	}
	etbBlk, _ := strconv.ParseInt(etb[1], 10, 64)
	runBlk, _ := strconv.ParseInt(last[1], 10, 64)

	img, err := os.ReadFile(ia)
	if err != nil {
		t.Fatal(err)
	}
	b := bytes.Clone(img)
	etbOff := partOff + etbBlk*bs
	b[etbOff+bs-4] ^= 0xff // the tree block's checksum (ext4_extent_tail)
	dataOff := partOff + (runBlk+5)*bs
	copy(b[dataOff:dataOff+bs], bytes.Repeat([]byte("rewritten "), bs/10+1))
	if err := os.WriteFile(ib, b, 0o644); err != nil {
		t.Fatal(err)
	}

	repo := catalog.TestRepo(t)
	t0 := time.Unix(1700000000, 0)
	ma := ingestDisk(t, repo, ia, t0)
	mb := ingestDisk(t, repo, ib, t0.Add(time.Hour))
	r, err := diff.Compare(context.Background(), repo, ma, mb, diff.Options{Blocks: true})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	diff.WriteText(&sb, r, true)
	out := sb.String()
	d := r.Disks[0]
	ownerAt := func(os []diff.Owner, off int64) *diff.Owner {
		for i := range os {
			if os[i].Off <= off && off < os[i].Off+os[i].Len {
				return &os[i]
			}
		}
		return nil
	}
	for _, c := range []struct {
		what  string
		off   int64
		wantA diff.OwnerKind
	}{{"rewritten data block", dataOff, diff.OwnerFile}, {"damaged extent tree block", etbOff, diff.OwnerMetadata}} {
		var rg *diff.Range
		for i := range d.Ranges {
			if d.Ranges[i].Off <= c.off && c.off < d.Ranges[i].Off+d.Ranges[i].Len {
				rg = &d.Ranges[i]
			}
		}
		if rg == nil {
			t.Errorf("%s at disk offset %d: not in a changed range\n%s", c.what, c.off, out)
			continue
		}
		if o := ownerAt(rg.A, c.off); o == nil || o.Kind != c.wantA || c.wantA == diff.OwnerFile && o.Path != "/frag.bin" {
			t.Errorf("%s in A: owner %+v, want %s (/frag.bin for a file)\n%s", c.what, o, c.wantA, out)
		}
		if o := ownerAt(rg.B, c.off); o == nil || o.Kind != diff.OwnerUnknown || !strings.Contains(o.Note, "/frag.bin") {
			t.Errorf("%s in B: owner %+v, want unknown with a note naming /frag.bin\n%s", c.what, o, out)
		}
	}
	if !strings.Contains(out, "unknown: may be a file's whose blocks could not be mapped: extents of /frag.bin") {
		t.Errorf("text output does not say why the owner is unknown:\n%s", out)
	}
	var vol *diff.Volume
	for i := range d.Volumes {
		if d.Volumes[i].Name == "p1" {
			vol = &d.Volumes[i]
		}
	}
	if vol == nil || !strings.Contains(vol.Err, "block owners") || !strings.Contains(vol.Err, "/frag.bin") {
		t.Errorf("volume p1: %+v, want an error naming the unmapped file", vol)
	}
	if r.Complete() || r.Equal() {
		t.Errorf("complete %v equal %v with an unreadable file; errors %q", r.Complete(), r.Equal(), r.Errors)
	}
	// Its content cannot be read in B either: same size, so unknown.
	var frag *diff.Change
	for i := range vol.Changes {
		if vol.Changes[i].Path == "/frag.bin" {
			frag = &vol.Changes[i]
		}
	}
	if frag == nil || frag.Status != diff.Unknown || frag.Err == "" || frag.B.SHA256 != "" || frag.A.SHA256 == "" {
		t.Errorf("/frag.bin change: %+v, want status ? with an error, A's hash and not B's", frag)
	}
}

// TestCorruptIndexWarned damages point A's stored file index: Compare
// says which point's index was unusable (and rebuilt by walking its
// trees), in the report and its text, and finds the same changes as a
// walk of both trees.
func TestCorruptIndexWarned(t *testing.T) {
	testenv.NeedTools(t, "sgdisk", "mke2fs", "debugfs")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "etc"), 0o755)
	os.WriteFile(filepath.Join(tree, "etc", "hosts"), []byte("127.0.0.1 localhost\n"), 0o644)
	ia, ib := filepath.Join(dir, "a.raw"), filepath.Join(dir, "b.raw")
	tool(t, "bash", filepath.Join(imagesDir(), "..", "disk-from-tree.sh"), tree, ia, "16")
	tool(t, "cp", "--sparse=always", ia, ib)
	tool(t, "debugfs", "-w", "-R", "write "+filepath.Join(tree, "etc", "hosts")+" /new.txt", ib+"?offset=1048576")
	repo := catalog.TestRepo(t)
	t0 := time.Unix(1700000000, 0)
	ma := ingestDisk(t, repo, ia, t0)
	mb := ingestDisk(t, repo, ib, t0.Add(time.Hour))
	ctx := context.Background()
	first, err := diff.Compare(ctx, repo, ma, mb, diff.Options{}) // builds and stores both indexes
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Warnings) != 0 {
		t.Fatalf("warnings with sound indexes: %q", first.Warnings)
	}
	if err := repo.PutDerived(ma.ID(), index.DerivedName, []byte("VMAXIDX\x01garbage")); err != nil {
		t.Fatal(err)
	}
	r, err := diff.Compare(ctx, repo, ma, mb, diff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], ma.VM+"/"+ma.Name()) || !strings.Contains(r.Warnings[0], "building it again") {
		t.Errorf("warnings %q, want one naming point %s and its rebuild", r.Warnings, ma.Name())
	}
	var sb strings.Builder
	diff.WriteText(&sb, r, false)
	if !strings.HasPrefix(sb.String(), "# warning: stored file index of "+ma.VM+"/"+ma.Name()) {
		t.Errorf("text output does not start with the warning:\n%s", sb.String())
	}
	if !r.Complete() || r.Equal() {
		t.Errorf("complete %v equal %v; errors %q", r.Complete(), r.Equal(), r.Errors)
	}
	walk, err := diff.Compare(ctx, repo, ma, mb, diff.Options{NoIndex: true})
	if err != nil {
		t.Fatal(err)
	}
	changes := func(r *diff.Report) string {
		var s []string
		for _, v := range r.Disks[0].Volumes {
			for _, c := range v.Changes {
				s = append(s, string(c.Status)+" "+c.Path)
			}
		}
		return strings.Join(s, ", ")
	}
	if got, want := changes(r), changes(walk); got != want || !strings.Contains(got, "A /new.txt") {
		t.Errorf("changes %q, the walk finds %q", got, want)
	}
	// The index was rebuilt and kept: no warning the next time.
	if again, err := diff.Compare(ctx, repo, ma, mb, diff.Options{}); err != nil || len(again.Warnings) != 0 {
		t.Errorf("after the rebuild: warnings %q, %v", again.Warnings, err)
	}
}
