package hashes

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
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

func script(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testimages", "timeline", name)
}

func sh(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	c := exec.Command(name, args...)
	c.Dir = dir
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The sums of an ext4 (mke2fs -d) and an NTFS (mkntfs, ntfs-3g) volume
// made from one tree are what hashdeep, sha256sum and md5sum compute from
// that tree; a second run and the next point read nothing.
func TestHashesMatchTools(t *testing.T) {
	testenv.NeedTools(t, "mke2fs", "mkntfs", "ntfs-3g", "setfattr", "hashdeep", "sha256sum", "md5sum")
	testenv.NeedFUSE(t)
	dir := t.TempDir()
	// The tree as the guest paths name it, so the tools see the same names.
	ext4Tree, ntfsTree := filepath.Join(dir, "disk0", "fs"), filepath.Join(dir, "disk1", "fs")
	sh(t, dir, "bash", script("tree.sh"), ext4Tree)
	if err := os.Mkdir(filepath.Join(dir, "disk1"), 0o755); err != nil {
		t.Fatal(err)
	}
	sh(t, dir, "cp", "-a", ext4Tree, filepath.Join(dir, "disk1"))
	e, n := filepath.Join(dir, "ext4.img"), filepath.Join(dir, "ntfs.img")
	sh(t, dir, "mke2fs", "-q", "-F", "-t", "ext4", "-d", ext4Tree, e, "8M")
	sh(t, dir, "bash", script("ntfs.sh"), ntfsTree, n)
	repo := catalog.TestRepo(t)
	p1 := ingestImages(t, repo, t0, e, n)

	deep, res := hashesOf(t, repo, p1, "hashdeep", "sha256,md5,sha1")
	if res.Cached || res.Failed != 0 || res.Files != 18 {
		t.Fatalf("first run: %+v, want 18 files read", res)
	}
	want := sh(t, dir, "hashdeep", "-c", "md5,sha1,sha256", "-r", "-l", "disk0/fs", "disk1/fs")
	if g, w := header(deep), header(want); g != w {
		t.Errorf("hashdeep header\n%s\nwant\n%s", g, w)
	}
	if g, w := body(deep), body(want); !slices.Equal(g, w) {
		t.Errorf("hashdeep lines\n%s\nwant\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
	}
	known := filepath.Join(dir, "known.hashdeep")
	write(t, known, deep)
	if out := sh(t, dir, "hashdeep", "-r", "-l", "-a", "-k", known, "disk0/fs", "disk1/fs"); !strings.Contains(out, "Audit passed") {
		t.Errorf("hashdeep audit: %s", out)
	}

	sums, res := hashesOf(t, repo, p1, "sha256sum", "")
	if !res.Cached || res.Read != 0 {
		t.Errorf("second run: %+v, want it cached", res)
	}
	write(t, filepath.Join(dir, "SHA256SUMS"), sums)
	sh(t, dir, "sha256sum", "--strict", "-c", "SHA256SUMS")
	md5s, _ := hashesOf(t, repo, p1, "sha256sum", "md5")
	write(t, filepath.Join(dir, "MD5SUMS"), md5s)
	sh(t, dir, "md5sum", "--strict", "-c", "MD5SUMS")
	if strings.Count(sums, "\n") != 18 || strings.Count(md5s, "\n") != 18 {
		t.Errorf("sha256sum format: %d and %d lines, want 18", strings.Count(sums, "\n"), strings.Count(md5s, "\n"))
	}

	// The same images again: every file's content key is in p1's sums.
	p2 := ingestImages(t, repo, t0.Add(time.Hour), e, n)
	again, res := hashesOf(t, repo, p2, "hashdeep", "md5,sha1,sha256")
	if res.Cached || res.Read != 0 || res.Reused == 0 || res.Reused+res.Failed > res.Files {
		t.Errorf("next point: %+v, want the keyed files reused, nothing read", res)
	}
	if !slices.Equal(body(again), body(deep)) {
		t.Errorf("next point's sums differ:\n%s", again)
	}
}

func hashesOf(t *testing.T, repo *catalog.Repo, m *catalog.Manifest, format, algos string) (string, *Result) {
	t.Helper()
	var buf bytes.Buffer
	var as []string
	if algos != "" {
		as = strings.Split(algos, ",")
	}
	w, err := NewWriter(&buf, format, as, "/x", "vmarchive hashes vm1 latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Header(); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), repo, m, func(err error) { t.Errorf("warning: %v", err) }, w.Write)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.String(), res
}

// header is the "%%%%" lines of hashdeep output.
func header(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "%%%%") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// body is the sorted hash lines of hashdeep output.
func body(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if !strings.HasPrefix(l, "%%%%") && !strings.HasPrefix(l, "##") {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

var t0 = time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)

func ingestImages(t testing.TB, repo *catalog.Repo, when time.Time, imgs ...string) *catalog.Manifest {
	t.Helper()
	var specs []ingest.DiskSpec
	for i, img := range imgs {
		d, err := image.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		specs = append(specs, ingest.DiskSpec{Name: "disk" + string(rune('0'+i)), Disk: d, Source: img, Format: d.Format()})
	}
	m, err := ingest.Ingest(context.Background(), repo, ingest.Options{VM: "vm1", Time: when, SourceKind: "image"}, specs)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
