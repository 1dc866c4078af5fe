package index

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestReservedDiskNamePaths: in an older repository's point whose disk is
// named config (refused by ingest now), find reports and accepts the path
// as the mount shows it: config~/fs/...
func TestReservedDiskNamePaths(t *testing.T) {
	testenv.NeedTools(t, "truncate", "mkfs.fat", "mcopy")
	dir := t.TempDir()
	img, file := filepath.Join(dir, "fat.raw"), filepath.Join(dir, "secret.txt")
	os.WriteFile(file, []byte("x\n"), 0o600)
	run(t, "truncate", "-s", "16M", img)
	run(t, "mkfs.fat", "-F", "16", img)
	run(t, "mcopy", "-i", img, file, "::/secret.txt")
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	repo := catalog.TestRepo(t)
	m := catalog.TestWritePoint(t, repo, "web01", t0, map[string][]byte{"config": b})
	p, err := Compile("config~/fs/secret.txt")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Find(context.Background(), repo, []*catalog.Manifest{m}, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) != 1 || res.Hits[0].GuestPath() != "config~/fs/secret.txt" || res.Hits[0].Disk != "config" {
		t.Fatalf("hits %+v", res.Hits)
	}
	ix, err := Build(context.Background(), repo, m)
	if err != nil {
		t.Fatal(err)
	}
	if v, path, ok := ix.Split("config~/fs/secret.txt"); !ok || v.Disk != "config" || path != "/secret.txt" {
		t.Fatalf("Split: %v %q %v", v, path, ok)
	}
}

// TestDedupeKeepsLowestInode: a path listed twice keeps the same entry
// whatever order the walk found them in, and is warned about once.
func TestDedupeKeepsLowestInode(t *testing.T) {
	es := []Entry{{Path: "/b", Ino: 9}, {Path: "/a", Ino: 7}, {Path: "/b", Ino: 3}, {Path: "/c", Ino: 1}}
	for _, order := range [][]int{{0, 1, 2, 3}, {2, 3, 1, 0}, {3, 2, 0, 1}} {
		v := &buildVolume{}
		for _, i := range order {
			v.Entries = append(v.Entries, es[i])
		}
		got := dedupe(v)
		var s []string
		for _, e := range got {
			s = append(s, fmt.Sprintf("%s:%d", e.Path, e.Ino))
		}
		if strings.Join(s, " ") != "/a:7 /b:3 /c:1" || len(v.Warnings) != 1 {
			t.Errorf("order %v: %v, warnings %q; want /a:7 /b:3 /c:1 and one warning", order, s, v.Warnings)
		}
	}
}
