package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestReservedDiskNamesRefused: a disk name that would collide in the
// mounted tree is refused before its image is even opened, and no point
// is made.
func TestReservedDiskNamesRefused(t *testing.T) {
	repo := newRepo(t)
	absent := filepath.Join(t.TempDir(), "absent.raw")
	for _, name := range []string{"config", "Config", "latest", "d.img", "D.Img", "changes.txt"} {
		r := run(t, repo, nil, "ingest", "--vm", "web01", name+"="+absent)
		if r.code != 2 || !strings.Contains(r.stderr, `disk name "`+name+`"`) || strings.Contains(r.stderr, "no such file") {
			t.Errorf("disk %s: exit %d, stderr %q; want 2 naming the disk, before opening the image", name, r.code, r.stderr)
		}
	}
	if out := mustRun(t, repo, "points"); strings.Contains(out, "web01") {
		t.Fatalf("a point was made:\n%s", out)
	}
}
