package timeline

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// The bodyfile of one point lists what `fls -r -m` lists of the same
// ext4 (mke2fs -d) and NTFS (mkntfs, ntfs-3g) volumes, field by field,
// and mactime -b reads the whole timeline.
func TestBodyfileMatchesFls(t *testing.T) {
	testenv.NeedTools(t, "mke2fs", "mkntfs", "ntfs-3g", "setfattr", "fls", "mactime")
	testenv.NeedFUSE(t)
	dir := t.TempDir()
	tree, ntree := filepath.Join(dir, "tree"), filepath.Join(dir, "ntree")
	sh(t, "bash", script("tree.sh"), tree, "unix")
	sh(t, "bash", script("tree.sh"), ntree)
	ext, ntfs := filepath.Join(dir, "ext4.img"), filepath.Join(dir, "ntfs.img")
	sh(t, "mke2fs", "-q", "-F", "-t", "ext4", "-d", tree, ext, "8M")
	sh(t, "bash", script("ntfs.sh"), ntree, ntfs)
	repo := catalog.TestRepo(t)
	m := ingestImages(t, repo, "vm1", t0, ext, ntfs)

	body, evs := timelineOf(t, repo, []*catalog.Manifest{m}, "bodyfile", Options{})
	ours := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(body), "\n") {
		f := strings.Split(l, "|")
		if len(f) != 11 {
			t.Fatalf("bodyfile line with %d fields: %q", len(f), l)
		}
		if !strings.Contains(f[1], " (vmarchive: ") && strings.Count(f[1], "/") > 1 { // not a volume root
			ours[f[1]] = f
		}
	}
	checkExt4(t, ours, flsLines(t, ext, "disk0/fs"))
	checkNTFS(t, ours, flsLines(t, ntfs, "disk1/fs"))
	if n := len(evs); n != 2*(len(ours)+2) {
		t.Errorf("%d events for %d files and 2 roots, want a file and a present event each", n, len(ours))
	}

	bf := filepath.Join(dir, "body")
	if err := os.WriteFile(bf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out := sh(t, "mactime", "-b", bf, "-d", "-y")
	for _, want := range []string{"disk0/fs/docs/old/big.bin", "disk1/fs/docs/report.txt", "(vmarchive: present from point 2026-11-20T01:00:00Z)", "2024-02-29T12:34:56Z"} {
		if !strings.Contains(out, want) {
			t.Errorf("mactime output lacks %q:\n%s", want, out)
		}
	}
}

// flsLines runs fls -r -m prefix on img, by name.
func flsLines(t *testing.T, img, prefix string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(sh(t, "fls", "-r", "-m", prefix, img)), "\n") {
		f := strings.Split(l, "|")
		if len(f) != 11 {
			t.Fatalf("fls line %q", l)
		}
		name, _, _ := strings.Cut(f[1], " -> ") // a symlink's target
		f[1] = name
		out[name] = f
	}
	return out
}

// checkExt4 compares every field of the ext4 lines.
func checkExt4(t *testing.T, ours, fls map[string][]string) {
	n := 0
	for name, f := range fls {
		if strings.Contains(name, "$OrphanFiles") {
			continue
		}
		n++
		if g, ok := ours[name]; !ok {
			t.Errorf("ext4: fls lists %q, the timeline does not", name)
		} else if !slices.Equal(g, f) {
			t.Errorf("ext4: %q\n timeline %v\n fls      %v", name, g, f)
		}
	}
	if n < 12 {
		t.Errorf("ext4: fls listed only %d files", n)
	}
	for name := range ours {
		if _, ok := fls[name]; strings.HasPrefix(name, "disk0/") && !ok {
			t.Errorf("ext4: the timeline lists %q, fls does not", name)
		}
	}
}

// checkNTFS compares names, MFT record numbers, the types, regular
// files' sizes and the four $STANDARD_INFORMATION times. Mode and owners
// follow ntfs-3g's conventions here and TSK's there; fls also lists
// metadata files, $FILE_NAME times and streams, which the tree does not.
func checkNTFS(t *testing.T, ours, fls map[string][]string) {
	n := 0
	for name, f := range fls {
		if strings.Contains(name, "/$") || strings.Contains(name, "($FILE_NAME)") || strings.Contains(strings.TrimPrefix(name, "disk1/fs"), ":") {
			continue
		}
		n++
		g, ok := ours[name]
		if !ok {
			t.Errorf("ntfs: fls lists %q, the timeline does not", name)
			continue
		}
		rec, _, _ := strings.Cut(f[2], "-")
		same := g[2] == rec && g[3][0] == f[3][0] && slices.Equal(g[7:], f[7:]) && (f[3][0] != 'r' || g[6] == f[6])
		if !same {
			t.Errorf("ntfs: %q\n timeline %v\n fls      %v", name, g, f)
		}
	}
	if n < 10 {
		t.Errorf("ntfs: fls listed only %d files", n)
	}
	for name := range ours {
		if _, ok := fls[name]; strings.HasPrefix(name, "disk1/") && !ok {
			t.Errorf("ntfs: the timeline lists %q, fls does not", name)
		}
	}
}
