package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// timeline's point range and formats and hashes' formats through the
// CLI, over three points of an ext4 image changed by debugfs.
func TestTimelineHashesCLI(t *testing.T) {
	testenv.NeedTools(t, "mke2fs", "debugfs")
	repo := newRepo(t)
	dir := t.TempDir()
	tree, img := filepath.Join(dir, "tree"), filepath.Join(dir, "fs.img")
	sh(t, "bash", filepath.Join(repoRoot(t), "testimages", "timeline", "tree.sh"), tree)
	sh(t, "mke2fs", "-q", "-F", "-t", "ext4", "-d", tree, img, "8M")
	pts := []string{"2026-11-20T01:00:00Z", "2026-11-21T01:00:00Z", "2026-11-22T01:00:00Z"}
	for i, p := range pts {
		if i == 2 {
			sh(t, "debugfs", "-w", "-R", "rm /delete-me.txt", img)
		}
		mustRun(t, repo, "ingest", "--vm", "vm1", "--point-time", p, "disk0="+img)
	}

	out := mustRun(t, repo, "timeline", "vm1", "--from", pts[1], "--to", "latest", "--format", "csv")
	if !strings.HasPrefix(out, "message,datetime,timestamp,timestamp_desc,") || strings.Contains(out, pts[0]) {
		t.Errorf("timeline --from %s: %s", pts[1], out)
	}
	if !strings.Contains(out, "disk0/fs/delete-me.txt: deleted between points "+pts[1]+" and "+pts[2]) {
		t.Errorf("timeline lacks the deletion:\n%s", out)
	}
	body := mustRun(t, repo, "timeline", "vm1", "--path", "keep.txt")
	if n := strings.Count(body, "\n"); n != 2 || !strings.HasPrefix(body, "0|disk0/fs/keep.txt|") {
		t.Errorf("timeline --path keep.txt: %d lines:\n%s", n, body)
	}
	for _, c := range [][]string{
		{"timeline", "vm1", "--from", pts[2], "--to", pts[0]},
		{"timeline", "vm1", "--format", "xml"},
		{"timeline", "vm1", "--path", "[x"},
		{"hashes", "vm1", "latest", "--format", "sha256sum", "--algo", "md5,sha1"},
		{"hashes", "vm1", "2020-01-01T00:00:00Z"},
		{"usn", "vm1", "latest"}, // ext4 only: no change journal
	} {
		if r := run(t, repo, nil, c...); r.code != 2 || r.stderr == "" {
			t.Errorf("vmarchive %s: exit %d, stderr %q", strings.Join(c, " "), r.code, r.stderr)
		}
	}

	first := mustRun(t, repo, "hashes", "vm1", "latest", "--format", "sha256sum")
	if n := strings.Count(first, "\n"); n != 8 || !strings.Contains(first, "  disk0/fs/docs/report.txt\n") {
		t.Errorf("hashes: %d lines:\n%s", n, first)
	}
	if again := mustRun(t, repo, "hashes", "vm1", "latest", "--format", "sha256sum"); again != first {
		t.Errorf("cached hashes differ:\n%s", again)
	}
}
