package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/index"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// findFixture ingests versions 1-4 of testimages/index/tree.sh as points
// of vm1 through the CLI; point 3 with --no-index.
func findFixture(t *testing.T) (repo string, trees, points []string) {
	testenv.NeedTools(t, "sgdisk", "mke2fs", "debugfs")
	repo = newRepo(t)
	dir := t.TempDir()
	for v := 1; v <= 4; v++ {
		tree := filepath.Join(dir, "tree"+strconv.Itoa(v))
		img := filepath.Join(dir, "disk"+strconv.Itoa(v)+".raw")
		sh(t, "bash", filepath.Join(repoRoot(t), "testimages", "index", "tree.sh"), tree, strconv.Itoa(v))
		sh(t, "bash", filepath.Join(repoRoot(t), "testimages", "disk-from-tree.sh"), tree, img, "32")
		pt := time.Date(2026, 11, 19+v, 1, 0, 0, 0, time.UTC).Format(time.RFC3339)
		args := []string{"ingest", "--vm", "vm1", "--point-time", pt, "disk0=" + img}
		if v == 3 {
			args = append(args, "--no-index")
		}
		mustRun(t, repo, args...)
		trees, points = append(trees, tree), append(points, pt)
	}
	return repo, trees, points
}

func TestFindVersionsCLI(t *testing.T) {
	repo, trees, points := findFixture(t)

	// ingest indexed every point but the --no-index one.
	r, err := catalog.Open(context.Background(), repo, catalog.Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range points {
		pt, _ := catalog.ParsePointTime(p)
		_, ok, err := r.Derived(catalog.NewPointID("vm1", pt), index.DerivedName)
		if err != nil || ok != (i != 2) {
			t.Errorf("point %s: index stored %v (%v)", p, ok, err)
		}
	}
	r.Close()

	for _, c := range []struct {
		pat    string
		findOp []string // find(1) test for the same files, relative to the tree
	}{
		{"/home/*/Documents/report*.docx", []string{"-path", "TREE/home/*/Documents/report*.docx"}},
		{"*.c", []string{"-name", "*.c"}},
		{"disk0/p1/**/grüße.txt", []string{"-name", "grüße.txt"}},
		{"disk0/p1/data/*", []string{"-path", "TREE/data/*"}},
	} {
		out := mustRun(t, repo, "find", "vm1", c.pat, "--json")
		var got []struct {
			Path   string `json:"path"`
			Points []struct {
				Point string `json:"point"`
				Size  int64  `json:"size"`
			} `json:"points"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		var gotL, wantL []string
		for _, g := range got {
			for _, p := range g.Points {
				gotL = append(gotL, p.Point+" "+g.Path+" "+strconv.FormatInt(p.Size, 10))
			}
		}
		for i, tree := range trees {
			args := []string{tree, "-mindepth", "1"}
			for _, a := range c.findOp {
				args = append(args, strings.ReplaceAll(a, "TREE", tree))
			}
			args = append(args, "-printf", points[i]+" disk0/p1/%P %s\n")
			o, err := exec.Command("find", args...).Output()
			if err != nil {
				t.Fatal(err)
			}
			if s := strings.TrimSpace(string(o)); s != "" {
				wantL = append(wantL, strings.Split(s, "\n")...)
			}
		}
		sort.Strings(gotL)
		sort.Strings(wantL)
		if len(wantL) == 0 || strings.Join(gotL, "\n") != strings.Join(wantL, "\n") {
			t.Errorf("find %q:\ngot  %q\nwant %q", c.pat, gotL, wantL)
		}
	}

	// --point limits the search; text output groups a path's points.
	out := mustRun(t, repo, "find", "vm1", "report.docx", "--point", points[0], "--point", "latest")
	want := "disk0/p1/home/ann/Documents/report.docx\n  " + points[0] + " .. " + points[3] + "  2 points  file  54.6 KiB  mtime 2026-11-20T01:00:00.25Z\n"
	if out != want {
		t.Errorf("find --point output:\n%s", out)
	}
	out = mustRun(t, repo, "find", "vm1", "notes.txt")
	if !strings.Contains(out, points[0]+" .. "+points[1]+"  2 points") || !strings.Contains(out, points[2]+" .. "+points[3]+"  2 points") {
		t.Errorf("notes.txt runs (mtime changed in point 3):\n%s", out)
	}
	if res := run(t, repo, nil, "find", "vm1", "/no/such/*"); res.code != 1 || res.stdout != "" {
		t.Errorf("no match: exit %d, %q %q", res.code, res.stdout, res.stderr)
	}
	if res := run(t, repo, nil, "find", "vm1", "/bad["); res.code != 2 {
		t.Errorf("bad pattern: exit %d", res.code)
	}
	if res := run(t, repo, nil, "find", "nosuchvm", "*"); res.code != 2 {
		t.Errorf("unknown VM: exit %d", res.code)
	}

	// versions against sha256sum of the trees.
	sum := func(i int, p string) string {
		o, err := exec.Command("sha256sum", filepath.Join(trees[i], p)).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Fields(string(o))[0]
	}
	for _, hash := range []bool{false, true} {
		args := []string{"versions", "vm1", "disk0/p1/home/ann/Documents/report.docx", "--json"}
		if hash {
			args = append(args, "--hash")
		}
		var h index.History
		if err := json.Unmarshal([]byte(mustRun(t, repo, args...)), &h); err != nil {
			t.Fatal(err)
		}
		if len(h.Versions) != 2 || h.Present != 3 || h.Points != 4 ||
			h.Versions[0].SHA256 != sum(0, "home/ann/Documents/report.docx") || h.Versions[0].SHA256 != sum(3, "home/ann/Documents/report.docx") ||
			h.Versions[1].SHA256 != sum(1, "home/ann/Documents/report.docx") || h.Versions[0].First != points[0] || h.Versions[0].Last != points[3] {
			t.Errorf("versions (hash %v): %+v", hash, h)
		}
		var runs []string
		for _, r := range h.Runs {
			runs = append(runs, strconv.Itoa(r.Version))
		}
		if strings.Join(runs, ",") != "1,2,0,1" {
			t.Errorf("runs %v", runs)
		}
	}
	// Each version's times are those of its last point, as find has them;
	// the text shows them too.
	var h index.History
	json.Unmarshal([]byte(mustRun(t, repo, "versions", "vm1", "disk0/p1/home/ann/Documents/report.docx", "--json")), &h)
	var found []struct {
		Points []struct {
			Point  string    `json:"point"`
			Ctime  time.Time `json:"ctime"`
			Crtime time.Time `json:"crtime"`
		} `json:"points"`
	}
	json.Unmarshal([]byte(mustRun(t, repo, "find", "vm1", "disk0/p1/home/ann/Documents/report.docx", "--json")), &found)
	text := mustRun(t, repo, "versions", "vm1", "disk0/p1/home/ann/Documents/report.docx")
	for _, v := range h.Versions {
		ok := false
		for _, p := range found[0].Points {
			if p.Point == v.Last {
				ok = !p.Ctime.IsZero() && !p.Crtime.IsZero() && v.Ctime.Equal(p.Ctime) && v.Crtime.Equal(p.Crtime)
			}
		}
		if !ok || !strings.Contains(text, v.Ctime.Format(time.RFC3339Nano)) || !strings.Contains(text, v.Crtime.Format(time.RFC3339Nano)) {
			t.Errorf("version %d: ctime %s crtime %s; find at %s: %+v\n%s", v.N, v.Ctime, v.Crtime, v.Last, found, text)
		}
	}
	if !strings.Contains(text, "MTIME") || !strings.Contains(text, "CTIME") || !strings.Contains(text, "BIRTH") {
		t.Errorf("versions table header:\n%s", text)
	}
	out = mustRun(t, repo, "versions", "vm1", "disk0/p1/home/ann/Documents/notes.txt")
	if !strings.Contains(out, "1 version in 4 of 4 points") || !strings.Contains(out, sum(0, "home/ann/Documents/notes.txt")) {
		t.Errorf("versions notes.txt:\n%s", out)
	}
	if res := run(t, repo, nil, "versions", "vm1", "disk0/p1/nope"); res.code != 1 || !strings.Contains(res.stdout, "0 versions in 0 of 4 points") {
		t.Errorf("versions of a missing path: exit %d %q", res.code, res.stdout)
	}
}

// TestNewPointIndexedFromStoreWhenImageChanged: the new point's index is
// walked in its image only if the image kept its size and mtime while the
// point was made; here the file holds version 2's bytes when the walk
// starts and is touched before the walk is used, so the index must be the
// stored point's (version 1: no notes.txt), not the file's.
func TestNewPointIndexedFromStoreWhenImageChanged(t *testing.T) {
	v1, v2 := demoDisks(t)
	repo := newRepo(t)
	mustRun(t, repo, "ingest", "--no-index", "--vm", "web01", "disk0="+v1)
	if err := os.WriteFile(v1, readFile(t, v2), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := catalog.Open(context.Background(), repo, catalog.Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	m, err := r.Point("web01", catalog.Latest)
	if err != nil {
		t.Fatal(err)
	}
	d, err := image.Open(v1)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	pi := startIndex(context.Background(), viper.New(), []ingest.DiskSpec{{Name: "disk0", Disk: d, Source: v1}}, r)
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(v1, later, later); err != nil {
		t.Fatal(err)
	}
	c := &cobra.Command{}
	var warn bytes.Buffer
	c.SetErr(&warn)
	pi.finish(context.Background(), c, r, m)
	ix, err := index.Load(context.Background(), r, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"disk0/p2/home/ann/Documents/report.txt", "disk0/p2/home/ann/Documents/notes.txt"} {
		vol, path, ok := ix.Split(p)
		_, found := vol.Lookup(path)
		if want := !strings.HasSuffix(p, "notes.txt"); !ok || found != want {
			t.Errorf("%s in the index: %v, want %v (the stored point's tree)%s", p, found, want, warn.String())
		}
	}
}
