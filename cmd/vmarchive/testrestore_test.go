package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTestRestoreCLI: test-restore passes a good point and fails one
// with a damaged chunk, naming the guest file; points shows both.
func TestTestRestoreCLI(t *testing.T) {
	v1, _ := demoDisks(t)
	repo := newRepo(t)
	mustRun(t, repo, "ingest", "--vm", "vm1", "--point-time", "2026-11-20T01:00:00Z", "disk0="+v1)
	if out := mustRun(t, repo, "points"); !strings.Contains(out, "TESTED") || !strings.HasSuffix(strings.TrimSpace(out), " -") {
		t.Fatalf("points before any test:\n%s", out)
	}
	out := mustRun(t, repo, "test-restore", "--vm", "vm1")
	if !strings.Contains(out, "vm1/2026-11-20T01:00:00Z: 1 disks, 2 filesystems") || !strings.HasSuffix(strings.TrimSpace(out), ": ok") {
		t.Fatalf("test-restore:\n%s", out)
	}
	if out := mustRun(t, repo, "points"); !strings.HasSuffix(strings.TrimSpace(out), " ok") {
		t.Fatalf("points after the test:\n%s", out)
	}
	var pts []struct {
		VM          string `json:"vm"`
		TestRestore *struct {
			OK       bool  `json:"ok"`
			Files    int64 `json:"files"`
			Bytes    int64 `json:"bytes"`
			Problems []struct{ Path, Error string }
		} `json:"test_restore"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, repo, "points", "--json")), &pts); err != nil {
		t.Fatal(err)
	}
	// demo-disk.sh: BOOTX64.EFI on the ESP; hostname, motd, boot.log,
	// report.txt, photo.bin (3 MiB) and ls on the root.
	if len(pts) != 1 || pts[0].VM != "vm1" || pts[0].TestRestore == nil || !pts[0].TestRestore.OK ||
		pts[0].TestRestore.Files != 7 || pts[0].TestRestore.Bytes < 3<<20 {
		t.Fatalf("points --json: %+v", pts)
	}
	if r := run(t, repo, nil, "test-restore", "--vm", "vm1", "--sample", "0"); r.code != 2 || !strings.Contains(r.stderr, "--sample 0") {
		t.Fatalf("--sample 0: %+v", r)
	}

	// Damage the largest stored object: a chunk of file data.
	var big string
	var size int64
	filepath.Walk(filepath.Join(repo, "store", "data"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Size() > size {
			big, size = p, fi.Size()
		}
		return err
	})
	b := readFile(t, big)
	b[len(b)/2] ^= 1
	if err := os.WriteFile(big, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, repo, nil, "test-restore", "--vm", "vm1", "--point", "2026-11-20T01:00:00Z")
	if r.code != 1 || !strings.Contains(r.stdout, "FAILED") || !strings.Contains(r.stdout, `"disk0/p2/`) || !strings.Contains(r.stderr, "corrupt") {
		t.Fatalf("test-restore of a damaged point: %+v", r)
	}
	if out := mustRun(t, repo, "points"); !strings.Contains(out, `FAILED: "disk0/p2/`) {
		t.Fatalf("points after the failed test:\n%s", out)
	}
}
