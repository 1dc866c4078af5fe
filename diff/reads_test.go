package diff

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/backend"
	"github.com/vmarchive/vmarchive/catalog/format"
)

// countingBackend records every object read.
type countingBackend struct {
	backend.Backend
	mu    sync.Mutex
	reads map[string]int // guarded by mu
}

func (c *countingBackend) Get(ctx context.Context, name string) ([]byte, error) {
	c.mu.Lock()
	c.reads[name]++
	c.mu.Unlock()
	return c.Backend.Get(ctx, name)
}

// writeFull commits a one-disk point of n chunks, every one holding data
// (its index, or changed[i] when set), so that reading unchanged data
// would show as store reads.
func writeFull(t *testing.T, repo *catalog.Repo, when time.Time, n int64, changed map[int64]byte) *catalog.Manifest {
	t.Helper()
	ctx := context.Background()
	w := repo.NewWriter()
	enc := catalog.NewEncoder()
	cs := int64(repo.Config().ChunkSize)
	mb := w.NewMapBuilder(n * cs)
	buf := make([]byte, cs)
	for i := int64(0); i < n; i++ {
		clear(buf)
		binary.LittleEndian.PutUint64(buf, uint64(i)+1)
		if b, ok := changed[i]; ok {
			buf[4096*3+100] = b // one 4 KiB block of the chunk differs
		}
		res, err := w.Add(ctx, enc, buf)
		if err != nil {
			t.Fatal(err)
		}
		if err := mb.Set(ctx, i, res.ID); err != nil {
			t.Fatal(err)
		}
	}
	root, err := mb.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := &catalog.Manifest{VM: "vm", Time: when.UTC(), Created: time.Now().UTC(),
		Disks: []catalog.DiskRecord{{Name: "disk0", Size: n * cs, Map: root}}}
	if err := w.Commit(ctx, m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBlockDiffReadsOnlyChanges compares two points of a disk of three map
// leaves, all chunks holding data, that differ in three chunks of leaves 0
// and 2, and counts the store objects read: the two map roots, the
// differing leaves of each point and, when refining to blocks, the changed
// chunks of each point, each once; never the unchanged leaf 1 or another
// chunk but the first and the last, where the disk is probed for a
// partition table to place the ranges in volumes.
func TestBlockDiffReadsOnlyChanges(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "repo")
	if _, err := catalog.Init(ctx, dir, catalog.InitOptions{ChunkSize: catalog.MinChunkSize}); err != nil {
		t.Fatal(err)
	}
	repo, err := catalog.Open(ctx, dir, catalog.Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 2*format.LeafFanout + 52
	changed := map[int64]byte{3: 1, 4: 2, n - 10: 3}
	t0 := time.Unix(1700000000, 0)
	ma := writeFull(t, repo, t0, n, nil)
	mb := writeFull(t, repo, t0.Add(time.Hour), n, changed)
	// What may be read: roots, leaves 0 and 2 of both maps, and the
	// changed chunks of both points.
	base := map[string]bool{}
	chunks := map[string]bool{}
	probes := map[string]bool{}
	for _, m := range []*catalog.Manifest{ma, mb} {
		base[m.Disks[0].Map.ObjectName()] = true
		dm, err := repo.OpenDiskMap(ctx, m, &m.Disks[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(dm.Leaves()) != 3 {
			t.Fatalf("%d leaves, want 3", len(dm.Leaves()))
		}
		for _, l := range []int{0, 2} {
			base[dm.Leaves()[l].ObjectName()] = true
		}
		for _, i := range []int64{0, 3, 4, n - 10, n - 1} {
			id, err := dm.Chunk(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := changed[i]; ok {
				chunks[id.ObjectName()] = true
			} else {
				probes[id.ObjectName()] = true
			}
		}
	}
	if len(base) != 6 || len(chunks) != 6 {
		t.Fatalf("%d roots and leaves, %d chunks: want 6 distinct of each", len(base), len(chunks))
	}
	repo.Close()

	for _, blocks := range []bool{false, true} {
		cb := &countingBackend{reads: map[string]int{}}
		r, err := catalog.Open(ctx, dir, catalog.Options{Command: "test", WrapBackend: func(b backend.Backend) backend.Backend {
			cb.Backend = b
			return cb
		}})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Compare(ctx, r, ma, mb, Options{Blocks: blocks, NoFiles: true})
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := len(rep.Disks[0].Ranges); blocks && got != 3 || !blocks && got != 2 {
			t.Errorf("blocks=%v: %d ranges %+v", blocks, got, rep.Disks[0].Ranges)
		}
		want := map[string]bool{}
		for k := range base {
			want[k] = true
		}
		if blocks {
			for k := range chunks {
				want[k] = true
			}
		}
		var extra []string
		for name, k := range cb.reads {
			if !want[name] && !(blocks && probes[name]) || k > 1 {
				extra = append(extra, name)
			}
		}
		sort.Strings(extra)
		missing := 0
		for name := range want {
			if cb.reads[name] == 0 {
				missing++
			}
		}
		if len(extra) > 0 || missing > 0 {
			t.Errorf("blocks=%v: %d objects read; want the %d roots, differing leaves and changed chunks once each (%d not read), unexpected or repeated: %v",
				blocks, len(cb.reads), len(want), missing, extra)
		}
	}
}
