package index

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// The index of each point lists exactly what find(1) lists in the tree
// the disk was made from, with the same metadata.
func TestBuildMatchesFind(t *testing.T) {
	f := newFixture(t, 1, 2)
	ctx := context.Background()
	for i, m := range f.points {
		ix, err := Build(ctx, f.repo, m)
		if err != nil {
			t.Fatal(err)
		}
		got := guestEntries(t, ix)
		ref := refTree(t, f.trees[i])
		for p, r := range ref {
			e, ok := got[p]
			if !ok {
				t.Errorf("point %d: %s missing from the index", i, p)
				continue
			}
			if typeLetter(e.Mode) != r.typ || e.Mode&0o7777 != r.perm || e.Uid != r.uid || e.Gid != r.gid || !e.Mtime.Equal(r.mtime) {
				t.Errorf("point %d %s: index %s %o %d:%d %s, find %c %o %d:%d %s", i, p, e.Type(), e.Mode&0o7777, e.Uid, e.Gid, e.Mtime, r.typ, r.perm, r.uid, r.gid, r.mtime)
			}
			if r.typ != 'd' && (e.Size != r.size || e.Nlink != r.nlink) {
				t.Errorf("point %d %s: size %d nlink %d, find %d %d", i, p, e.Size, e.Nlink, r.size, r.nlink)
			}
			if r.typ == 'f' && !e.HasKey {
				t.Errorf("point %d %s: regular file on a partition without a content key", i, p)
			}
			if e.StatFailed || e.ListFailed {
				t.Errorf("point %d %s: %+v", i, p, e)
			}
		}
		for p := range got {
			if _, ok := ref[p]; !ok {
				t.Errorf("point %d: index has %s, find does not", i, p)
			}
		}
		if v := ix.Volume("disk0", "p1"); v.FSType != "ext4" || len(v.Warnings) != 0 {
			t.Errorf("volume: type %q warnings %q", v.FSType, v.Warnings)
		}
	}
}

// Equal content keys imply equal content, and a file overwritten in place
// (same size, same blocks, other bytes) gets a new key. Points 0 and 2 are
// the same image, point 1 that image with the first data block of
// report.docx rewritten by a raw write (its blocks from debugfs). Every
// key must name one SHA-256 across the points (the reference tree's, and
// for the rewritten file its bytes as written); point 2 must repeat point
// 0's keys exactly, so the check meets many equal keys.
func TestContentKeysSound(t *testing.T) {
	testenv.NeedTools(t, "dumpe2fs")
	f := newFixture(t, 1)
	const target = "/home/ann/Documents/report.docx"
	img := f.images[0]
	blocks := debugfsBlocks(t, img+"?offset=1048576", []string{target})[target]
	m := regexp.MustCompile(`Block size:\s+(\d+)`).FindStringSubmatch(run(t, "dumpe2fs", "-h", img+"?offset=1048576"))
	if len(blocks) == 0 || m == nil {
		t.Fatalf("debugfs blocks %s: %v; dumpe2fs block size %v", target, blocks, m)
	}
	bs, _ := strconv.ParseInt(m[1], 10, 64)
	first := blocks[0]
	raw, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(filepath.Join(f.trees[0], target))
	if err != nil {
		t.Fatal(err)
	}
	patch := bytes.Repeat([]byte("overwritten in place "), int(bs)/21+1)[:bs]
	changed := bytes.Clone(orig)
	copy(changed, patch)
	copy(raw[1<<20+first*bs:], patch)
	img1 := filepath.Join(t.TempDir(), "patched.raw")
	if err := os.WriteFile(img1, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	points := []*catalog.Manifest{f.points[0],
		ingestImage(t, f.repo, "vm1", t0.Add(24*time.Hour), img1),
		ingestImage(t, f.repo, "vm1", t0.Add(48*time.Hour), img)}
	ref := refTree(t, f.trees[0])
	sumOf := func(point int, p string) string {
		if point == 1 && p == target {
			return fmt.Sprintf("%x", sha256.Sum256(changed))
		}
		return ref[p].sha256
	}
	ctx := context.Background()
	byKey := map[ContentKey]string{}
	where := map[ContentKey]string{}
	var keys [3]map[string]Entry
	for i, m := range points {
		ix, err := Build(ctx, f.repo, m)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = guestEntries(t, ix)
		for p, e := range keys[i] {
			if !e.HasKey {
				continue
			}
			sum := sumOf(i, p)
			if s, ok := byKey[e.Key]; ok && s != sum {
				t.Errorf("key %s: point %d %s has sha256 %s, %s has %s", e.Key, i, p, sum, where[e.Key], s)
			}
			byKey[e.Key], where[e.Key] = sum, fmt.Sprintf("point %d %s", i, p)
		}
	}
	same := 0
	for p, e := range keys[0] {
		if e.HasKey {
			if keys[2][p].Key != e.Key || !keys[2][p].HasKey {
				t.Errorf("%s: key %s in point 0, %s in point 2 (the same image)", p, e.Key, keys[2][p].Key)
			}
			same++
		}
	}
	if same < 5 {
		t.Errorf("only %d files with keys: the check above proved little", same)
	}
	a, b := keys[0][target], keys[1][target]
	if !a.HasKey || !b.HasKey || a.Key == b.Key || a.Size != b.Size {
		t.Errorf("%s overwritten in place: keys %s %v -> %s %v, sizes %d %d; want a new key", target, a.Key, a.HasKey, b.Key, b.HasKey, a.Size, b.Size)
	}
}

// A file changed in place in the guest gets a new key; a file keeps its
// key exactly when its blocks (debugfs blocks, before and after) are the
// same and both maps hold them in the same extents.
func TestContentKeysKept(t *testing.T) {
	f := newFixture(t, 1)
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.raw")
	run(t, "bash", scriptPath("disk-from-tree.sh"), f.trees[0], img, "64", "-b", "4096")
	m1 := ingestImage(t, f.repo, "vm1", t0.Add(24*time.Hour), img)
	// Point 2: the same filesystem with report.docx rewritten, as a guest
	// would, through debugfs on partition 1 (at 1 MiB).
	part := filepath.Join(dir, "p1.img")
	run(t, "dd", "if="+img, "of="+part, "bs=1M", "skip=1", "status=none")
	blocks1 := debugfsBlocks(t, part, e1paths(f.trees[0]))
	newReport := filepath.Join(dir, "report")
	run(t, "sh", "-c", "seq 1 5000 >"+newReport)
	run(t, "debugfs", "-w", "-R", "rm /home/ann/Documents/report.docx", part)
	run(t, "debugfs", "-w", "-R", "write "+newReport+" /home/ann/Documents/report.docx", part)
	blocks2 := debugfsBlocks(t, part, e1paths(f.trees[0]))
	run(t, "dd", "if="+part, "of="+img, "bs=1M", "seek=1", "conv=notrunc", "status=none")
	m2 := ingestImage(t, f.repo, "vm1", t0.Add(48*time.Hour), img)
	ctx := context.Background()
	ix1, err := Build(ctx, f.repo, m1)
	if err != nil {
		t.Fatal(err)
	}
	ix2, err := Build(ctx, f.repo, m2)
	if err != nil {
		t.Fatal(err)
	}
	e1, e2 := guestEntries(t, ix1), guestEntries(t, ix2)
	// A block is unchanged for the key when both maps hold it in the same
	// extent (offset, length and chunk).
	dm1, err := f.repo.OpenDiskMap(ctx, m1, &m1.Disks[0])
	if err != nil {
		t.Fatal(err)
	}
	dm2, err := f.repo.OpenDiskMap(ctx, m2, &m2.Disks[0])
	if err != nil {
		t.Fatal(err)
	}
	chunkSame := func(off int64) bool {
		x1, err1 := dm1.Lookup(ctx, off)
		x2, err2 := dm2.Lookup(ctx, off)
		return err1 == nil && err2 == nil && x1 == x2
	}
	kept, checked := 0, 0
	for p, b1 := range blocks1 {
		a, b := e1[p], e2[p]
		if !a.HasKey || !b.HasKey {
			t.Errorf("%s: no content key", p)
			continue
		}
		want := a.Size == b.Size && equalInts64(b1, blocks2[p])
		for _, blk := range b1 {
			want = want && chunkSame(1<<20+blk*4096)
		}
		if got := a.Key == b.Key; got != want {
			t.Errorf("%s (blocks %v -> %v): key kept %v, chunks and blocks say %v", p, b1, blocks2[p], got, want)
		}
		checked++
		if want {
			kept++
		}
	}
	if e1["/home/ann/Documents/report.docx"].Key == e2["/home/ann/Documents/report.docx"].Key {
		t.Error("rewritten report.docx kept its key")
	}
	t.Logf("%d of %d files kept their key", kept, checked)
	if kept == 0 {
		t.Error("no file kept its key: the check above proved nothing")
	}
}

// e1paths lists the regular files of a tree as "/path".
func e1paths(tree string) []string {
	out, _ := exec.Command("find", tree, "-type", "f", "-printf", "/%P\n").Output()
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// debugfsBlocks returns each file's physical blocks, from debugfs.
func debugfsBlocks(t *testing.T, part string, paths []string) map[string][]int64 {
	t.Helper()
	out := map[string][]int64{}
	for _, p := range paths {
		s := run(t, "debugfs", "-R", "blocks \""+p+"\"", part)
		var bs []int64
		for _, w := range strings.Fields(s) {
			if n, err := strconv.ParseInt(w, 10, 64); err == nil {
				bs = append(bs, n)
			}
		}
		out[p] = bs
	}
	return out
}

func equalInts64(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestVersions(t *testing.T) {
	f := newFixture(t, 1, 2, 3, 4)
	ctx := context.Background()
	sum := func(i int, p string) string {
		out, err := exec.Command("sha256sum", filepath.Join(f.trees[i], p)).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Fields(string(out))[0]
	}
	for _, hashAll := range []bool{false, true} {
		h, err := Versions(ctx, f.repo, f.points, "disk0/p1/home/ann/Documents/report.docx", VersionsOptions{HashAll: hashAll})
		if err != nil {
			t.Fatal(err)
		}
		// A (points 0, 3), B (point 1), absent in point 2.
		if len(h.Versions) != 2 || h.Present != 3 || h.Points != 4 {
			t.Fatalf("hashAll=%v: %+v", hashAll, h)
		}
		a, b := h.Versions[0], h.Versions[1]
		if a.SHA256 != sum(0, "home/ann/Documents/report.docx") || a.SHA256 != sum(3, "home/ann/Documents/report.docx") || a.Points != 2 || a.First != f.points[0].Name() || a.Last != f.points[3].Name() {
			t.Errorf("version A: %+v", a)
		}
		if b.SHA256 != sum(1, "home/ann/Documents/report.docx") || b.Points != 1 || b.First != f.points[1].Name() || !b.Mtime.Equal(time.Date(2026, 11, 21, 9, 30, 0, 5e8, time.UTC)) {
			t.Errorf("version B: %+v", b)
		}
		// Change and birth times at each version's last point, as
		// debugfs shows them.
		for _, c := range []struct {
			v     Version
			point int
		}{{a, 3}, {b, 1}} {
			ct, cr := debugfsTimes(t, f.images[c.point], "/home/ann/Documents/report.docx")
			if ct.IsZero() || cr.IsZero() || !c.v.Ctime.Equal(ct) || !c.v.Crtime.Equal(cr) {
				t.Errorf("version %d: ctime %s crtime %s, debugfs at point %d: %s %s", c.v.N, c.v.Ctime, c.v.Crtime, c.point, ct, cr)
			}
		}
		var runs []int
		for _, r := range h.Runs {
			runs = append(runs, r.Version)
		}
		if want := []int{1, 2, 0, 1}; !equalInts(runs, want) {
			t.Errorf("runs %v, want %v", runs, want)
		}
	}
	// Same bytes throughout, mtime changed: one version.
	h, err := Versions(ctx, f.repo, f.points, "disk0/p1/home/ann/Documents/notes.txt", VersionsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Versions) != 1 || h.Versions[0].Points != 4 || h.Versions[0].SHA256 != sum(0, "home/ann/Documents/notes.txt") || len(h.Runs) != 1 {
		t.Errorf("notes.txt: %+v", h)
	}
	// A symlink: versions by target.
	h, err = Versions(ctx, f.repo, f.points, "disk0/p1/home/ann/link", VersionsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Versions) != 2 || h.Versions[0].Target != "Documents/report.docx" || h.Versions[0].Points != 2 || h.Versions[1].Target != "Documents/notes.txt" {
		t.Errorf("link: %+v", h)
	}
	h, err = Versions(ctx, f.repo, f.points, "disk0/p1/no/such/file", VersionsOptions{})
	if err != nil || h.Present != 0 || len(h.Runs) != 1 || h.Runs[0].Version != 0 {
		t.Errorf("missing path: %+v %v", h, err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Find's matches are what a glob over find(1)'s list of each tree gives.
func TestFindMatchesFind(t *testing.T) {
	f := newFixture(t, 1, 2, 3)
	ctx := context.Background()
	for _, c := range []struct{ pat, shell string }{
		{"/home/*/Documents/report*.docx", "home/*/Documents/report*.docx"},
		{"*.docx", "*.docx"},
		{"disk0/p1/src/f1*.c", "src/f1*.c"},
		{"/**/grüße.txt", "*/grüße.txt"},
	} {
		p, err := Compile(c.pat)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Find(ctx, f.repo, f.points, p, func(err error) { t.Error(err) })
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, h := range res.Hits {
			got = append(got, h.Point.Name()+" "+h.GuestPath())
		}
		for i, tree := range f.trees {
			args := []string{tree, "-mindepth", "1", "-path", tree + "/" + c.shell, "-printf", f.points[i].Name() + " disk0/p1/%P\n"}
			if !strings.Contains(c.pat, "/") {
				args = []string{tree, "-mindepth", "1", "-name", c.shell, "-printf", f.points[i].Name() + " disk0/p1/%P\n"}
			}
			out, err := exec.Command("find", args...).Output()
			if err != nil {
				t.Fatal(err)
			}
			if s := strings.TrimSpace(string(out)); s != "" {
				want = append(want, strings.Split(s, "\n")...)
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, "\n") != strings.Join(want, "\n") || len(want) == 0 {
			t.Errorf("pattern %q:\ngot  %q\nwant %q", c.pat, got, want)
		}
	}
}

// Load stores what it builds; a damaged stored value is reported and
// rebuilt; forgetting another point leaves an index in place.
func TestLoadStoreCorruptForget(t *testing.T) {
	f := newFixture(t, 1, 2)
	ctx := context.Background()
	m := f.points[1]
	if _, ok, _ := f.repo.Derived(m.ID(), DerivedName); ok {
		t.Fatal("index present before Load")
	}
	ix, err := Load(ctx, f.repo, m, func(err error) { t.Errorf("unexpected warning: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	stored, ok, err := f.repo.Derived(m.ID(), DerivedName)
	if err != nil || !ok || !bytes.Equal(stored, ix.enc) {
		t.Fatalf("stored index: ok=%v err=%v", ok, err)
	}
	if _, err := Load(ctx, f.repo, f.points[0], nil); err != nil {
		t.Fatal(err)
	}

	bad := append([]byte(nil), stored...)
	bad[len(bad)-5] ^= 0xff // inside part B's zstd frame (checksummed)
	if err := f.repo.PutDerived(m.ID(), DerivedName, bad); err != nil {
		t.Fatal(err)
	}
	var warned []error
	ix2, err := Load(ctx, f.repo, m, func(err error) { warned = append(warned, err) })
	if err != nil {
		t.Fatal(err)
	}
	if len(warned) != 1 || !errors.Is(warned[0], ErrCorrupt) || !strings.Contains(warned[0].Error(), m.Name()) {
		t.Fatalf("warnings for a corrupt index: %v", warned)
	}
	if len(guestEntries(t, ix2)) != len(guestEntries(t, ix)) {
		t.Fatal("rebuilt index differs")
	}
	if again, _, _ := f.repo.Derived(m.ID(), DerivedName); !bytes.Equal(again, stored) {
		t.Fatal("the rebuilt index was not stored again")
	}

	if err := f.repo.Forget(ctx, "vm1", []time.Time{f.points[0].Time}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := f.repo.Derived(m.ID(), DerivedName); !ok {
		t.Fatal("forgetting another point dropped this point's index")
	}
	if _, ok, _ := f.repo.Derived(f.points[0].ID(), DerivedName); ok {
		t.Fatal("the forgotten point's index is still there")
	}
}

// corruptColumn returns the encoded index b with a path of volume disk0/p1
// put before the path preceding it: every zstd frame stays valid, so only
// the check of the path column can tell.
func corruptColumn(t *testing.T, b []byte) []byte {
	t.Helper()
	r := reader{b: b, off: headerLen}
	alen := r.uvarint("part A length", maxPartLen)
	blen := r.uvarint("part B length", maxPartLen)
	zalen := r.uvarint("stored part A length", uint64(len(b)))
	za, zb, ok := r.bytes(int(zalen))
	if r.err != nil || !ok {
		t.Fatalf("header: %v", r.err)
	}
	a, err := decompress(za, int(alen), "part A", nil)
	if err != nil {
		t.Fatal(err)
	}
	ix, err := decodeVolumes(a)
	if err != nil {
		t.Fatal(err)
	}
	v := ix.Volume("disk0", "p1")
	colAt := bytes.Index(a, v.col)
	off, prevLen, done := 0, 0, false
	for i := 0; i < v.n && !done; i++ {
		shared, suffix, next, err := columnEntry(v.col, off, prevLen)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && shared < prevLen {
			// The path differs from the previous one at suffix[0], where
			// it is greater: make it smaller.
			a[colAt+next-len(suffix)] = 0x01
			done = true
		}
		prevLen = shared + len(suffix)
		off = next
	}
	if !done {
		t.Fatal("no path to corrupt")
	}
	enc, _, _ := codecs()
	za = enc.EncodeAll(a, nil)
	out := append([]byte(magic), formatVersion)
	out = binary.AppendUvarint(out, uint64(len(a)))
	out = binary.AppendUvarint(out, blen)
	out = binary.AppendUvarint(out, uint64(len(za)))
	out = append(out, za...)
	return append(out, zb...)
}

// Find checks a stored index as Load does, even where the pattern skips
// every volume: a corrupt one is reported, rebuilt and stored again, and
// what it held is not used.
func TestFindCorruptRebuilt(t *testing.T) {
	f := newFixture(t, 1, 2)
	ctx := context.Background()
	for _, m := range f.points {
		if _, err := Load(ctx, f.repo, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	m := f.points[1]
	stored, _, err := f.repo.Derived(m.ID(), DerivedName)
	if err != nil {
		t.Fatal(err)
	}
	bad := corruptColumn(t, stored)
	if _, err := Decode(bad); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "not after") {
		t.Fatalf("Decode of the corrupted index: %v", err)
	}
	clean := func(pat string) []string {
		p, err := Compile(pat)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Find(ctx, f.repo, f.points, p, func(err error) { t.Errorf("warning on a clean repository: %v", err) })
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, h := range res.Hits {
			out = append(out, fmt.Sprintf("%s %s %d %s %x", h.Point.Name(), h.GuestPath(), h.Size, h.Mtime, h.Key))
		}
		return out
	}
	for _, pat := range []string{"disk9/**", "*.c", "disk0/p1/home/**"} {
		want := clean(pat)
		if err := f.repo.PutDerived(m.ID(), DerivedName, bad); err != nil {
			t.Fatal(err)
		}
		p, _ := Compile(pat)
		var warned []error
		var mu sync.Mutex
		res, err := Find(ctx, f.repo, f.points, p, func(err error) { mu.Lock(); warned = append(warned, err); mu.Unlock() })
		if err != nil {
			t.Fatal(err)
		}
		if len(warned) != 1 || !errors.Is(warned[0], ErrCorrupt) || !strings.Contains(warned[0].Error(), m.Name()) {
			t.Fatalf("pattern %q: warnings for a corrupt index: %v", pat, warned)
		}
		var got []string
		for _, h := range res.Hits {
			got = append(got, fmt.Sprintf("%s %s %d %s %x", h.Point.Name(), h.GuestPath(), h.Size, h.Mtime, h.Key))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("pattern %q: with a corrupt index\n%s\nwant\n%s", pat, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if again, _, _ := f.repo.Derived(m.ID(), DerivedName); !bytes.Equal(again, stored) {
			t.Fatalf("pattern %q: the rebuilt index was not stored", pat)
		}
	}
	if len(clean("*.c")) == 0 || len(clean("disk0/p1/home/**")) == 0 {
		t.Fatal("patterns matching nothing test little")
	}
}

// TestIndexReusedForUnchangedDisks: a point whose disks have the same
// names, sizes and maps as the point before takes that point's stored
// index as it is, without walking (shown by storing a marker, point 0's
// index, as point 1's: the next unchanged point gets the marker); a point
// whose map differs from the one before is built from its own disk.
func TestIndexReusedForUnchangedDisks(t *testing.T) {
	f := newFixture(t, 1, 2)
	ctx := context.Background()
	load := func(m *catalog.Manifest) *Index {
		t.Helper()
		ix, err := Load(ctx, f.repo, m, func(err error) { t.Errorf("unexpected warning: %v", err) })
		if err != nil {
			t.Fatal(err)
		}
		return ix
	}
	stored := func(m *catalog.Manifest) []byte {
		t.Helper()
		b, ok, err := f.repo.Derived(m.ID(), DerivedName)
		if err != nil || !ok {
			t.Fatalf("no stored index of %s: %v", m.Name(), err)
		}
		return b
	}
	v1, v2 := guestEntries(t, load(f.points[0])), guestEntries(t, load(f.points[1]))
	if reflect.DeepEqual(v1, v2) {
		t.Fatal("the two versions' indexes are equal")
	}
	again := ingestImage(t, f.repo, "vm1", t0.Add(48*time.Hour), f.images[1])
	if again.Disks[0].Map != f.points[1].Disks[0].Map {
		t.Fatal("the same image ingested twice has two maps")
	}
	if got := guestEntries(t, load(again)); !reflect.DeepEqual(got, v2) {
		t.Errorf("index of an unchanged point differs from the point before's")
	}
	if !bytes.Equal(stored(again), stored(f.points[1])) {
		t.Error("the unchanged point's stored index is not the point before's")
	}

	if err := f.repo.PutDerived(again.ID(), DerivedName, stored(f.points[0])); err != nil {
		t.Fatal(err)
	}
	marked := ingestImage(t, f.repo, "vm1", t0.Add(72*time.Hour), f.images[1])
	if got := guestEntries(t, load(marked)); !reflect.DeepEqual(got, v1) {
		t.Error("an unchanged point's index was built again, not taken from the point before")
	}
	if err := f.repo.PutDerived(marked.ID(), DerivedName, stored(f.points[1])); err != nil {
		t.Fatal(err)
	}
	changed := ingestImage(t, f.repo, "vm1", t0.Add(96*time.Hour), f.images[0])
	if got := guestEntries(t, load(changed)); !reflect.DeepEqual(got, v1) {
		t.Error("the index of a point whose map changed is not its own")
	}
}

// TestStartFinish: an index whose guest trees were walked in the image
// while the point was made (Start, then Finish with the point's maps) is
// the one built from the store, byte for byte; the walk does read the
// source given (another image of the same size gives its own tree); and
// with unchanged false the store is walked instead.
func TestStartFinish(t *testing.T) {
	f := newFixture(t, 1, 2)
	ctx := context.Background()
	m := f.points[0]
	fromStore, err := Build(ctx, f.repo, m)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	finish := func(img string, unchanged bool) *Index {
		t.Helper()
		d, err := image.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		p := Start(ctx, map[string]Source{"disk0": d})
		// A new VM's point of point 0's disk: no index stored, none before.
		n++
		m := ingestImage(t, f.repo, fmt.Sprint("other", n), t0, f.images[0])
		ix, err := p.Finish(ctx, f.repo, m, unchanged, func(err error) { t.Errorf("warning: %v", err) })
		if err != nil {
			t.Fatal(err)
		}
		if b, ok, err := f.repo.Derived(m.ID(), DerivedName); err != nil || !ok || !bytes.Equal(b, ix.enc) {
			t.Fatalf("Finish did not store the index: %v %v", ok, err)
		}
		return ix
	}
	if ix := finish(f.images[0], true); !bytes.Equal(ix.enc, fromStore.enc) {
		t.Error("the index walked in the point's image differs from the one built from the store")
	}
	if got, want := guestEntries(t, finish(f.images[1], true)), guestEntries(t, fromStore); reflect.DeepEqual(got, want) {
		t.Error("Start did not walk the source it was given")
	}
	if got, want := guestEntries(t, finish(f.images[1], false)), guestEntries(t, fromStore); !reflect.DeepEqual(got, want) {
		t.Error("with the source changed, the index is not the store's")
	}
}

// TestPrebuild: the index Prebuild builds while an ingest commits the
// point (from the walked image and the point's stored maps, before the
// point exists) is the one Finish stores, without building it again, and
// the same as the one built from the store, byte for byte.
func TestPrebuild(t *testing.T) {
	f := newFixture(t, 1, 2)
	ctx := context.Background()
	fromStore, err := Build(ctx, f.repo, f.points[0])
	if err != nil {
		t.Fatal(err)
	}
	d, err := image.Open(f.images[0])
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p := Start(ctx, map[string]Source{"disk0": d})
	defer p.Cancel()
	hooked := false
	m, err := ingest.Ingest(ctx, f.repo, ingest.Options{VM: "other", Time: t0, SourceKind: "image",
		Committing: func(m *catalog.Manifest) {
			hooked = true
			if _, err := f.repo.PointByID(m.ID()); !errors.Is(err, catalog.ErrNotFound) {
				t.Errorf("Committing called with the point there already: %v", err)
			}
			p.Prebuild(f.repo, m)
			<-p.pre.done // the whole build before the commit
		}}, []ingest.DiskSpec{{Name: "disk0", Disk: d, Source: f.images[0], Format: d.Format()}})
	if err != nil {
		t.Fatal(err)
	}
	if !hooked {
		t.Fatal("ingest did not call Committing")
	}
	if p.pre.err != nil {
		t.Fatalf("prebuild: %v", p.pre.err)
	}
	ix, err := p.Finish(ctx, f.repo, m, true, func(err error) { t.Errorf("warning: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	if ix != p.pre.ix {
		t.Error("Finish did not take the prebuilt index")
	}
	if !bytes.Equal(ix.enc, fromStore.enc) {
		t.Error("the prebuilt index differs from the one built from the store")
	}
	if b, ok, err := f.repo.Derived(m.ID(), DerivedName); err != nil || !ok || !bytes.Equal(b, ix.enc) {
		t.Fatalf("Finish did not store the prebuilt index: %v %v", ok, err)
	}
}

// TestStartBounds: the file boundaries StartBounds's walk hands out are
// the ones guestfs finds walking the disk on its own (with a cap on their
// number too), and the index is the one built from the store.
func TestStartBounds(t *testing.T) {
	f := newFixture(t, 1)
	ctx := context.Background()
	fromStore, err := Build(ctx, f.repo, f.points[0])
	if err != nil {
		t.Fatal(err)
	}
	d, err := image.Open(f.images[0])
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, maxCuts := range []int{1 << 20, 2} {
		want, err := guestfs.DiskFileBoundaries(ctx, d, d.Size(), 4096, 4096, maxCuts)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) < min(4, maxCuts) {
			t.Fatalf("only %d file boundaries in the fixture", len(want))
		}
		p := StartBounds(ctx, map[string]Source{"disk0": d}, 4096, 4096, maxCuts)
		if p.Boundaries("disk1") != nil {
			t.Error("boundaries of a disk not walked")
		}
		var got []int64
		for from := int64(0); from != math.MaxInt64; {
			c, to, err := p.Boundaries("disk0").Next(ctx, from)
			if err != nil {
				t.Fatal(err)
			}
			got, from = append(got, c...), to
		}
		if got = got[:min(len(got), maxCuts)]; !slices.Equal(got, want) {
			t.Errorf("maxCuts %d: the index walk's boundaries\n%v\nguestfs's own walk\n%v", maxCuts, got, want)
		}
		if n, err := p.Boundaries("disk0").Problems(); n != 0 {
			t.Errorf("%d problems: %v", n, err)
		}
		m := ingestImage(t, f.repo, fmt.Sprint("bounds", maxCuts), t0, f.images[0])
		ix, err := p.Finish(ctx, f.repo, m, true, func(err error) { t.Errorf("warning: %v", err) })
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ix.enc, fromStore.enc) {
			t.Error("StartBounds's index differs from the one built from the store")
		}
		p.Cancel()
	}
}
