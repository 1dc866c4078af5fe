package catalog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog/backend/mem"
	"github.com/vmarchive/vmarchive/catalog/format"
)

// TestCachedCatalog: a repository whose store is not REPO/store keeps its
// catalog under CacheDir(root, id) and builds it from the store when it is
// missing or its build was cut short, for readers too.
func TestCachedCatalog(t *testing.T) {
	ctx := context.Background()
	store := mem.New()
	root := t.TempDir()
	cfg, err := Init(ctx, root, InitOptions{Chunking: format.DefaultChunking(MinChunkSize), Store: store})
	if err != nil {
		t.Fatal(err)
	}
	dir := CacheDir(root, cfg.ID)
	if _, err := Init(ctx, root, InitOptions{Store: store}); !errors.Is(err, ErrExists) {
		t.Fatalf("second Init on the store: %v, want ErrExists", err)
	}
	r, err := Open(ctx, dir, Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	TestWritePoint(t, r, "web01", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), map[string][]byte{"d0": make([]byte, 1<<20)})
	r.Close()
	if _, err := os.Stat(filepath.Join(dir, "store")); err == nil {
		t.Fatal("a local store was made beside the cache")
	}
	points := func(opts Options) int {
		t.Helper()
		opts.Store = store
		r, err := Open(ctx, dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if r.ReadOnly() != opts.ReadOnly {
			t.Fatalf("ReadOnly() = %v, opened with %v", r.ReadOnly(), opts.ReadOnly)
		}
		ps, err := r.Points("web01")
		if err != nil {
			t.Fatal(err)
		}
		return len(ps)
	}
	os.RemoveAll(filepath.Join(dir, catalogDir))
	if n := points(Options{ReadOnly: true}); n != 1 {
		t.Fatalf("after the catalog was removed: %d points, want 1", n)
	}
	// A build cut short (the mark left behind) over an empty catalog.
	os.RemoveAll(filepath.Join(dir, catalogDir))
	db, err := openPebble(filepath.Join(dir, catalogDir), false)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	os.WriteFile(filepath.Join(dir, buildingMark), nil, 0o600)
	if n := points(Options{}); n != 1 {
		t.Fatalf("after a cut-short build: %d points, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(dir, buildingMark)); err == nil {
		t.Fatal("the build mark stayed")
	}
	other := CacheDir(root, "00112233445566778899aabbccddeeff")
	if _, err := Open(ctx, other, Options{Store: store}); err == nil {
		t.Fatal("opened the store with another repository's cache directory")
	}
}
