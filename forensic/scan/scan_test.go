package scan_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/forensic/scan"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// buildPoints runs testimages/scan/pair.sh and ingests P0, P1 and P2 as
// points of VM "vm" a day apart; it returns the points and the image
// directory.
func buildPoints(t *testing.T, repo *catalog.Repo) ([]*catalog.Manifest, string) {
	t.Helper()
	testenv.NeedFUSE(t)
	testenv.NeedTools(t, "fuse2fs", "mke2fs", "debugfs", "sgdisk", "python3", "gzip")
	_, file, _, _ := runtime.Caller(0)
	dir := t.TempDir()
	cmd := exec.Command("bash", filepath.Join(filepath.Dir(file), "..", "..", "testimages", "scan", "pair.sh"), dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pair.sh: %v\n%s", err, out)
	}
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	var pts []*catalog.Manifest
	for i, name := range []string{"P0", "P1", "P2"} {
		path := filepath.Join(dir, name+".raw")
		d, err := image.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ingest.Ingest(context.Background(), repo, ingest.Options{VM: "vm", Time: t0.AddDate(0, 0, i)},
			[]ingest.DiskSpec{{Name: "disk0", Disk: d, Source: path}})
		d.Close()
		if err != nil {
			t.Fatal(err)
		}
		pts = append(pts, m)
	}
	return pts, dir
}

func signal(p *scan.Point, kind string) *scan.Signal {
	for i := range p.Signals {
		if p.Signals[i].Kind == kind {
			return &p.Signals[i]
		}
	}
	return nil
}

func lines(t *testing.T, file, prefix string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Fields(string(b)) {
		out = append(out, prefix+l)
	}
	return out
}

// TestScanEncryptedPoint: a script "encrypts" srv/docs between P1 and P2
// (random bytes in place, renamed .locked, a ransom note, 30 of 40 .bak
// files deleted); P1 is a benign day (package upgrade, log rotation).
// The scan flags P2 alone, names the files, and finds P1 as the last
// clean point.
func TestScanEncryptedPoint(t *testing.T) {
	testenv.NeedTools(t, "yara")
	repo := catalog.TestRepo(t)
	pts, dir := buildPoints(t, repo)
	yar := filepath.Join(t.TempDir(), "note.yar")
	if err := os.WriteFile(yar, []byte(`rule ransom_note { strings: $a = "YOUR FILES ARE ENCRYPTED" condition: $a }`), 0o600); err != nil {
		t.Fatal(err)
	}
	// Thresholds for a 24 MiB disk; the defaults are TestClassifyDefaults'.
	rules, err := scan.ParseRules(strings.NewReader("entropy-min-bytes 1MiB\ndelete-min 20\nrename-min 20\nyara "+yar+"\n"), "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := scan.Scan(ctx, repo, "vm", scan.Options{Rules: rules, Record: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Points) != 3 || !res.Complete() {
		t.Fatalf("points %+v", res.Points)
	}
	if p := res.Points[1]; p.Tripped() || p.NewBytes == 0 || p.Changed < 60 {
		t.Errorf("benign point %s: %+v", p.Point, p)
	}
	p2 := &res.Points[2]
	t.Logf("P1 new %d stored %d raw %d; P2 new %d stored %d raw %d", res.Points[1].NewBytes, res.Points[1].StoredBytes, res.Points[1].RawBytes, p2.NewBytes, p2.StoredBytes, p2.RawBytes)
	if got := kindsOf(p2); !slices.Equal(got, []string{scan.Entropy, scan.MassDelete, scan.MassRename, scan.RansomNote, scan.RansomExtension, scan.Yara}) {
		t.Errorf("P2 signals %v", got)
	}
	encrypted := lines(t, filepath.Join(dir, "encrypted.txt"), "disk0/p1")
	for _, k := range []string{scan.Entropy, scan.MassRename, scan.RansomExtension} {
		if s := signal(p2, k); s == nil || !slices.Equal(s.Files, encrypted) {
			t.Errorf("%s names %v, want the 40 encrypted files", k, s)
		}
	}
	note := "disk0/p1/srv/docs/README_FOR_DECRYPT.txt"
	if s := signal(p2, scan.RansomNote); s == nil || !slices.Equal(s.Files, []string{note}) {
		t.Errorf("ransom-note %+v", s)
	}
	if s := signal(p2, scan.Yara); s == nil || !slices.Equal(s.Files, []string{"ransom_note " + note}) {
		t.Errorf("yara %+v", s)
	}
	if s := signal(p2, scan.MassDelete); s == nil || len(s.Files) != 30 || s.Detail != "30 of 40 .bak files deleted" {
		t.Errorf("mass-delete %+v", s)
	}
	if res.FirstTripped != pts[2].Name() || res.LastClean != pts[1].Name() {
		t.Errorf("first tripped %s, last clean %s; want %s, %s", res.FirstTripped, res.LastClean, pts[2].Name(), pts[1].Name())
	}
	var text bytes.Buffer
	if err := scan.WriteText(&text, res, true); err != nil {
		t.Fatal(err)
	}
	ls := strings.Split(strings.TrimSpace(text.String()), "\n")
	if ls[len(ls)-1] != pts[1].Name() {
		t.Errorf("last line %q, want %s:\n%s", ls[len(ls)-1], pts[1].Name(), text.String())
	}
	for i, want := range []string{"-", "clean", "ALERT: entropy,mass-delete,mass-rename,ransom-note,ransom-extension,yara"} {
		st, err := scan.LoadState(repo, pts[i].ID())
		if err != nil {
			t.Fatal(err)
		}
		if got := st.String(); got != want {
			t.Errorf("state of %s: %q, want %q", pts[i].Name(), got, want)
		}
	}

	// The default thresholds are too high for this small disk: only the
	// names trip; the benign day still raises nothing.
	res, err = scan.Scan(ctx, repo, "vm", scan.Options{From: pts[1].Name(), FindLastClean: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Points) != 2 || res.Points[0].Tripped() || !slices.Equal(kindsOf(&res.Points[1]), []string{scan.RansomNote, scan.RansomExtension}) || res.LastClean != pts[1].Name() {
		t.Errorf("default rules: %+v", res)
	}
}

func kindsOf(p *scan.Point) []string {
	var out []string
	for _, s := range p.Signals {
		out = append(out, s.Kind)
	}
	return out
}
