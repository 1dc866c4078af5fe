package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestFormat1Repository runs the reading commands and a real mount on the
// format-1 repository an older build wrote (catalog/testdata): disk images
// and guest files byte-exact against the sums that build recorded.
func TestFormat1Repository(t *testing.T) {
	testenv.NeedFUSE(t)
	repo, sums := catalog.TestFormat1Repo(t)
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	const p1, p2 = "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"
	if got := sum(catDisk(t, repo, "f1", p1, "disk0")); got != sums["p1/disk0.img"] {
		t.Errorf("cat of point 1: sha256 %s, want %s", got, sums["p1/disk0.img"])
	}
	if out := mustRun(t, repo, "points", "--vm", "f1"); !strings.Contains(out, p1) || !strings.Contains(out, p2) {
		t.Errorf("points:\n%s", out)
	}
	if out := mustRun(t, repo, "verify"); !strings.Contains(out, "0 problems") && strings.Contains(strings.ToLower(out), "damaged") {
		t.Errorf("verify:\n%s", out)
	}
	mustRun(t, repo, "check")
	mustRun(t, repo, "stats")
	res := run(t, repo, nil, "diff", "f1", p1, p2)
	diff := res.stdout
	if res.code != 1 { // diff(1)'s exit code: differences found
		t.Errorf("diff: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{"/big.bin", "/hello.txt", "/new.txt", "/deleted.txt", "/EFI/BOOT/CONFIG.CFG"} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff does not name %s:\n%s", want, diff)
		}
	}

	mnt, _ := startMount(t, repo)
	for name, path := range map[string]string{
		"p1/disk0.img":               filepath.Join("f1", p1, "disk0.img"),
		"p2/disk0.img":               filepath.Join("f1", p2, "disk0.img"),
		"p1/root/big.bin":            filepath.Join("f1", p1, "disk0", "p1", "big.bin"),
		"p2/root/big.bin":            filepath.Join("f1", p2, "disk0", "p1", "big.bin"),
		"p2/root/notes/log.txt":      filepath.Join("f1", p2, "disk0", "p1", "notes", "log.txt"),
		"p2/esp/EFI/BOOT/CONFIG.CFG": filepath.Join("f1", p2, "disk0", "p2", "EFI", "BOOT", "CONFIG.CFG"),
	} {
		b, err := os.ReadFile(filepath.Join(mnt, path))
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if got := sum(b); got != sums[name] {
			t.Errorf("%s through the mount: sha256 %s, want %s (%s)", path, got, sums[name], name)
		}
	}
}
