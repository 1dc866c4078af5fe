package catalog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog/backend"
)

// deleteFails is a backend whose Delete fails; it hides the wrapped
// backend's Replace, so replacing falls back to Delete and Put.
type deleteFails struct{ backend.Backend }

func (deleteFails) Delete(ctx context.Context, name string) error {
	return &os.PathError{Op: "remove", Path: name, Err: syscall.EIO}
}

// TestAddRepairReportsFailedDelete: a repair whose damaged copy cannot be
// removed fails instead of leaving the damage in place; with a working
// backend the repair heals the object.
func TestAddRepairReportsFailedDelete(t *testing.T) {
	ctx := context.Background()
	r := testRepo1(t)
	cs := r.Config().ChunkSize
	disk := testDisk(4, 2, cs)
	TestWritePoint(t, r, "web01", time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC), map[string][]byte{"disk0": disk})
	id := HashChunk(disk[:cs])
	p := filepath.Join(r.Dir(), storeDir, filepath.FromSlash(id.ObjectName()))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := r.Dir()
	r.Close()

	faulty, err := Open(ctx, dir, Options{WrapBackend: func(b backend.Backend) backend.Backend { return deleteFails{b} }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = faulty.NewWriter().AddRepair(ctx, NewEncoder(), disk[:cs])
	faulty.Close()
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("AddRepair with a failing Delete: %v, want the EIO", err)
	}

	r, err = Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.fetch(ctx, id, cs); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("before the repair: %v, want ErrCorrupt", err)
	}
	if res, err := r.NewWriter().AddRepair(ctx, NewEncoder(), disk[:cs]); err != nil || !res.New {
		t.Fatalf("AddRepair: %+v, %v", res, err)
	}
	if _, err := r.fetch(ctx, id, cs); err != nil {
		t.Fatalf("after the repair: %v", err)
	}
}

// countPuts counts the objects written through it.
type countPuts struct {
	backend.Backend
	n *atomic.Int64
}

func (c countPuts) Put(ctx context.Context, name string, data []byte) error {
	c.n.Add(1)
	return c.Backend.Put(ctx, name, data)
}

func (c countPuts) Replace(ctx context.Context, name string, data []byte) error {
	c.n.Add(1)
	return backend.Replace(ctx, c.Backend, name, data)
}

// TestAddSameChunkAtOnce: equal chunks added by several goroutines at
// once (equal pieces of one disk on the ingest's adders) are stored once
// and reported new once, so a point's stored figure does not depend on
// timing.
func TestAddSameChunkAtOnce(t *testing.T) {
	ctx := context.Background()
	r := testRepo1(t)
	dir := r.Dir()
	r.Close()
	var puts atomic.Int64
	r, err := Open(ctx, dir, Options{WrapBackend: func(b backend.Backend) backend.Backend { return countPuts{b, &puts} }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w := r.NewWriter()
	chunk := testDisk(1, 1, r.Config().ChunkSize)
	const n = 16
	res := make([]AddResult, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var err error
			if res[i], err = w.Add(ctx, NewEncoder(), chunk); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	news := 0
	for _, a := range res {
		if a.New {
			news++
		}
		if a.ID != res[0].ID {
			t.Fatalf("IDs differ: %v, %v", a.ID, res[0].ID)
		}
	}
	if news != 1 || puts.Load() != 1 {
		t.Fatalf("%d adds reported new, %d objects written; want 1 and 1", news, puts.Load())
	}
}
