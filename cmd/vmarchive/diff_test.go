package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/diff"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestDiffCLI runs vmarchive diff on the ext4 pair of testimages/diff
// (changes made through fuse2fs, known in expect.txt; a block of a removed
// file proved by TSK to be reused by a new one in reuse.txt) and checks
// the exit status (0 equal, 1 different, 2 error), that every intended
// change is listed, that the text and --json outputs agree, and that
// --blocks names the reused block's owners.
func TestDiffCLI(t *testing.T) {
	testenv.NeedTools(t, "sgdisk", "mke2fs", "debugfs", "fuse2fs", "ifind", "istat", "setfattr", "fusermount")
	testenv.NeedRoot(t) // the ext4 pair is written through fuse2fs
	dir := t.TempDir()
	sh(t, "bash", filepath.Join(repoRoot(t), "testimages", "diff", "ext4-pair.sh"), dir)
	repo := newRepo(t)
	const pa, pb, pc = "2026-11-20T01:00:00Z", "2026-11-21T01:00:00Z", "2026-11-22T01:00:00Z"
	mustRun(t, repo, "ingest", "--vm", "v", "--point-time", pa, "disk0="+filepath.Join(dir, "A.raw"))
	mustRun(t, repo, "ingest", "--vm", "v", "--point-time", pb, "disk0="+filepath.Join(dir, "B.raw"))
	mustRun(t, repo, "ingest", "--vm", "v", "--point-time", pc, "disk0="+filepath.Join(dir, "B.raw"))

	diffRun := func(want int, args ...string) result {
		t.Helper()
		r := run(t, repo, nil, append([]string{"diff"}, args...)...)
		if r.code != want {
			t.Fatalf("vmarchive diff %s: exit %d, want %d\n%s%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
		}
		return r
	}

	text := diffRun(1, "v", pa, pb)
	lines := changeLines(text.stdout)
	for _, e := range readLines(t, filepath.Join(dir, "expect.txt")) {
		st, rest, _ := strings.Cut(e, " ")
		want := st + "\tdisk0/p1" + rest
		if st == "R" {
			p, from, _ := strings.Cut(rest, " ")
			want = "R\tdisk0/p1" + from + "\tdisk0/p1" + p
		}
		if !lines[want] {
			t.Errorf("no line %q in\n%s", want, text.stdout)
		}
	}
	// One point: compared with the point before it.
	if one := diffRun(1, "v", pb); one.stdout != text.stdout {
		t.Errorf("diff v %s differs from diff v %s %s:\n%s\n---\n%s", pb, pa, pb, one.stdout, text.stdout)
	}

	// --json holds the same changes.
	var rep diff.Report
	if err := json.Unmarshal([]byte(diffRun(1, "v", pa, pb, "--json").stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.VM != "v" || rep.A != pa || rep.B != pb || rep.Equal() {
		t.Errorf("json report: vm %q a %q b %q equal %v", rep.VM, rep.A, rep.B, rep.Equal())
	}
	fromJSON := map[string]bool{}
	for _, d := range rep.Disks {
		for _, v := range d.Volumes {
			for _, c := range v.Changes {
				l := fmt.Sprintf("%s\t%s/%s%s", c.Status, d.Name, v.Name, c.Path)
				if c.Status == diff.Renamed {
					l = fmt.Sprintf("R\t%s/%s%s\t%s/%s%s", d.Name, v.Name, c.From, d.Name, v.Name, c.Path)
				}
				fromJSON[l] = true
			}
		}
	}
	if len(fromJSON) != len(lines) {
		t.Errorf("%d changes in --json, %d lines in the text", len(fromJSON), len(lines))
	}
	for l := range fromJSON {
		if !lines[l] {
			t.Errorf("--json change %q is not in the text output", l)
		}
	}

	// --blocks: the block reused by another file is owned by the removed
	// file in A and by the new one in B.
	checkReusedBlock(t, dir, diffRun(1, "v", pa, pb, "--blocks").stdout)

	// Equal points.
	eq := diffRun(0, "v", pb, pc)
	if l := changeLines(eq.stdout); len(l) != 0 {
		t.Errorf("equal points list changes: %v", l)
	}
	diffRun(0, "v", pc, "--blocks")

	// Errors.
	for _, args := range [][]string{
		{"v", "2001-01-01T00:00:00Z", pb}, // unknown point
		{"nosuchvm", "latest"},            // unknown VM
		{"v", pa},                         // the first point has none before it
		{"v", pa, pb, "--block-size", "3"},
	} {
		r := diffRun(2, args...)
		if strings.TrimSpace(r.stderr) == "" {
			t.Errorf("diff %v: exit 2 without a message", args)
		}
	}
}

// changeLines returns the change lines of diff's text output, without
// their fields column.
func changeLines(out string) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		if l == "" || l[0] == '#' || l[0] == '@' || l[0] == '\t' {
			continue
		}
		f := strings.Split(l, "\t")
		n := 2
		if f[0] == "R" {
			n = 3
		}
		m[strings.Join(f[:min(n, len(f))], "\t")] = true
	}
	return m
}

func readLines(t *testing.T, p string) []string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// checkReusedBlock finds the block of reuse.txt in --blocks output and
// checks its owners in A and B.
func checkReusedBlock(t *testing.T, dir, out string) {
	t.Helper()
	f := strings.Fields(readLines(t, filepath.Join(dir, "reuse.txt"))[0])
	block, _ := strconv.ParseInt(f[0], 10, 64)
	unit, _ := strconv.ParseInt(f[1], 10, 64)
	partOff, _ := strconv.ParseInt(f[2], 10, 64)
	off := partOff + block*unit
	want := map[string]string{"A": "disk0/p1" + f[3], "B": "disk0/p1" + f[4]}
	got := map[string]string{}
	inRange := false
	for _, l := range strings.Split(out, "\n") {
		c := strings.Split(l, "\t")
		switch {
		case len(c) >= 3 && c[0] == "@":
			o, n := span(c[2])
			inRange = o <= off && off < o+n
		case inRange && len(c) >= 4 && c[0] == "":
			if o, n := span(c[2]); o <= off && off < o+n {
				got[c[1]] = c[3]
				if len(c) >= 5 {
					got[c[1]] += " " + c[4]
				}
			}
		}
	}
	for side, p := range want {
		if got[side] != "file "+p {
			t.Errorf("reused block at disk offset %d in %s: owner %q, want file %s", off, side, got[side], p)
		}
	}
}

// span parses "OFF+LEN".
func span(s string) (int64, int64) {
	a, b, _ := strings.Cut(s, "+")
	o, _ := strconv.ParseInt(a, 10, 64)
	n, _ := strconv.ParseInt(b, 10, 64)
	return o, n
}

// TestDiffIncomplete removes from the store a chunk holding only data of a
// file changed between two points (its blocks from debugfs), and breaks
// the superblock checksum of a third point's ext4: diff still prints every
// change it could find, names what it could not read on a "!" line, in
// --json and on stderr, and exits 2, not 1.
func TestDiffIncomplete(t *testing.T) {
	testenv.NeedTools(t, "sgdisk", "mke2fs", "debugfs", "sha256sum")
	dir := t.TempDir()
	rnd := func(seed uint64) []byte {
		b := make([]byte, 1<<20)
		rng := rand.New(rand.NewPCG(seed, seed))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	img := map[string]string{}
	for _, v := range []struct {
		name string
		seed uint64
		more bool
	}{{"a", 1, false}, {"b", 2, true}} {
		tree := filepath.Join(dir, "tree-"+v.name)
		os.MkdirAll(tree, 0o755)
		os.WriteFile(filepath.Join(tree, "big.bin"), rnd(v.seed), 0o644)
		os.WriteFile(filepath.Join(tree, "same.txt"), []byte("same\n"), 0o644)
		if v.more {
			os.WriteFile(filepath.Join(tree, "new.txt"), []byte("new\n"), 0o644)
		}
		img[v.name] = filepath.Join(dir, v.name+".raw")
		sh(t, "bash", filepath.Join(repoRoot(t), "testimages", "disk-from-tree.sh"), tree, img[v.name], "32", "-b", "4096")
	}
	// C is B with the ext4 superblock's checksum broken.
	img["c"] = filepath.Join(dir, "c.raw")
	c := readFile(t, img["b"])
	c[1<<20+1024+0x3fc] ^= 0xff
	os.WriteFile(img["c"], c, 0o644)

	repo := newRepo(t)
	const pa, pb, pc = "2026-11-20T01:00:00Z", "2026-11-21T01:00:00Z", "2026-11-22T01:00:00Z"
	for p, name := range map[string]string{pa: "a", pb: "b", pc: "c"} {
		mustRun(t, repo, "ingest", "--vm", "v", "--point-time", p, "disk0="+img[name])
	}
	if r := run(t, repo, nil, "diff", "v", pa, pb); r.code != 1 || !strings.Contains(r.stdout, "M\tdisk0/p1/big.bin\tcontent") {
		t.Fatalf("diff of the sound store: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A chunk of B wholly inside big.bin's blocks.
	out, err := exec.Command("debugfs", "-R", "blocks /big.bin", img["b"]+"?offset=1048576").Output()
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[int64]bool{}
	for _, f := range strings.Fields(string(out)) {
		n, _ := strconv.ParseInt(f, 10, 64)
		blocks[n] = true
	}
	const bs = 4096
	r, err := catalog.Open(context.Background(), repo, catalog.Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := r.Point("v", pb)
	dr, err := r.OpenDisk(context.Background(), m, "disk0")
	if err != nil {
		t.Fatal(err)
	}
	var id catalog.ChunkID
	err = dr.Map().Extents(context.Background(), 1<<20, 32<<20, func(e catalog.Extent) error {
		inside := !e.ID.IsZero() && e.Off >= 1<<20 && id.IsZero()
		for off := e.Off; inside && off < e.End(); off += bs {
			inside = blocks[(off-1<<20)/bs]
		}
		if inside {
			id = e.ID
		}
		return nil
	})
	r.Close()
	if err != nil || id.IsZero() {
		t.Fatalf("no chunk wholly inside big.bin's blocks (%v) %s", err, out)
	}
	if err := os.Remove(filepath.Join(repo, "store", id.ObjectName())); err != nil {
		t.Fatal(err)
	}

	text := run(t, repo, nil, "diff", "v", pa, pb)
	if text.code != 2 {
		t.Fatalf("diff with a chunk of big.bin missing: exit %d, want 2\n%s%s", text.code, text.stdout, text.stderr)
	}
	lines := changeLines(text.stdout)
	for _, want := range []string{"?\tdisk0/p1/big.bin", "A\tdisk0/p1/new.txt", "!\tdisk0/p1/big.bin"} {
		if !lines[want] {
			t.Errorf("no line %q in\n%s", want, text.stdout)
		}
	}
	if !strings.Contains(text.stderr, "vmarchive: diff: disk0/p1/big.bin: point "+pb+": read /big.bin") || !strings.Contains(text.stderr, id.String()) {
		t.Errorf("stderr does not name the file, the point and the chunk %s:\n%s", id, text.stderr)
	}

	js := run(t, repo, nil, "diff", "v", pa, pb, "--json")
	var rep diff.Report
	if err := json.Unmarshal([]byte(js.stdout), &rep); js.code != 2 || err != nil {
		t.Fatalf("--json: exit %d, %v\n%s", js.code, err, js.stderr)
	}
	if len(rep.Errors) != 1 || !strings.HasPrefix(rep.Errors[0], "disk0/p1/big.bin: ") {
		t.Errorf("--json errors %q, want one for disk0/p1/big.bin", rep.Errors)
	}
	sum, _ := exec.Command("sha256sum", filepath.Join(dir, "tree-a", "big.bin")).Output()
	found := false
	for _, ch := range rep.Disks[0].Volumes[0].Changes {
		if ch.Path == "/big.bin" {
			found = true
			if ch.Status != diff.Unknown || ch.Err == "" || ch.A == nil || ch.A.SHA256 != strings.Fields(string(sum))[0] || ch.B == nil || ch.B.SHA256 != "" {
				t.Errorf("--json /big.bin: %+v; want status ?, an error, A's sha256 and none for B", ch)
			}
		}
	}
	if !found {
		t.Errorf("--json has no change for /big.bin:\n%s", js.stdout)
	}

	// --blocks cannot refine the chunk: the chunk-sized ranges stay.
	blk := run(t, repo, nil, "diff", "v", pa, pb, "--blocks")
	if blk.code != 2 || !strings.Contains(blk.stdout, "!\tdisk0\tchanged ranges not refined to 4096 bytes") || !strings.Contains(blk.stdout, "(whole chunks; --blocks narrows them)") {
		t.Errorf("--blocks: exit %d\n%s%s", blk.code, blk.stdout, blk.stderr)
	}

	// A filesystem that cannot be opened in one point.
	bad := run(t, repo, nil, "diff", "v", pb, pc)
	if bad.code != 2 || !strings.Contains(bad.stdout, "!\tdisk0/p1\tpoint "+pc+": p1: ext4: ") {
		t.Errorf("diff with a damaged superblock in C: exit %d\n%s%s", bad.code, bad.stdout, bad.stderr)
	}
}
