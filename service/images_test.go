package service

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/index"
)

// TestImageIngestKeepsIndex: an image job's ingest leaves the new point's
// file index stored, built from its one walk of the image (before, the
// job built it afterwards from the store), with content-defined and with
// fixed chunks; the index finds the guest's file.
func TestImageIngestKeepsIndex(t *testing.T) {
	img := filepath.Join(t.TempDir(), "web01.raw")
	treeImage(t, img, map[string]string{"hello.txt": "hello from the guest\n"})
	for name, repo := range map[string]*catalog.Repo{"format 2": catalog.TestRepo2(t), "format 1": catalog.TestRepo1(t)} {
		s := New(repo, &Config{}, Options{})
		m, err := s.ingestImage(context.Background(), "web01", img)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, ok, err := repo.Derived(m.ID(), index.DerivedName); err != nil || !ok {
			t.Fatalf("%s: the ingest stored no file index (%v)", name, err)
		}
		ix, err := index.Load(context.Background(), repo, m, func(err error) { t.Errorf("%s: %v", name, err) })
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		found := false
		for _, v := range ix.Volumes {
			if e, ok := v.Lookup("/hello.txt"); ok && e.Size == int64(len("hello from the guest\n")) {
				found = true
			}
		}
		if !found {
			t.Fatalf("%s: the index does not find /hello.txt", name)
		}
	}
}
