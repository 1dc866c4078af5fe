package catalog

import (
	"context"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// TestRepo creates and opens a repository in a temporary directory with
// the smallest chunk size, closed when the test ends.
func TestRepo(t testing.TB) *Repo {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	ctx := context.Background()
	if _, err := Init(ctx, dir, MinChunkSize); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, dir, Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestWritePoint commits a point whose disks hold the given bytes, written
// chunk by chunk straight through a Writer.
func TestWritePoint(t testing.TB, r *Repo, vm string, when time.Time, disks map[string][]byte) *Manifest {
	t.Helper()
	ctx := context.Background()
	w := r.NewWriter()
	enc := NewEncoder()
	m := &Manifest{VM: vm, Time: when.UTC().Truncate(time.Second), Created: time.Now().UTC()}
	names := make([]string, 0, len(disks))
	for n := range disks {
		names = append(names, n)
	}
	sort.Strings(names)
	cs := r.cfg.ChunkSize
	for _, name := range names {
		data := disks[name]
		mb := w.NewMapBuilder(int64(len(data)))
		for i := 0; i*cs < len(data); i++ {
			res, err := w.Add(ctx, enc, data[i*cs:min(len(data), (i+1)*cs)])
			if err != nil {
				t.Fatal(err)
			}
			if err := mb.Set(ctx, int64(i), res.ID); err != nil {
				t.Fatal(err)
			}
		}
		root, err := mb.Finish(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m.Disks = append(m.Disks, DiskRecord{Name: name, Size: int64(len(data)), Map: root})
	}
	if err := w.Commit(ctx, m); err != nil {
		t.Fatal(err)
	}
	return m
}
