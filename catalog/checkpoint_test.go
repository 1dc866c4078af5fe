package catalog

import (
	"context"
	"math/rand"
	"path/filepath"
	"testing"
	"time"
)

// addAll adds data chunk by chunk to w and returns the ids.
func addAll(t *testing.T, w *Writer, data []byte, cs int) []ChunkID {
	t.Helper()
	enc := NewEncoder()
	var ids []ChunkID
	for i := 0; i*cs < len(data); i++ {
		res, err := w.Add(context.Background(), enc, data[i*cs:min(len(data), (i+1)*cs)])
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ID)
	}
	return ids
}

// TestCheckpointKeysOutliveTheWriter: the chunk keys a Writer checkpointed
// are in the catalog after the process lets go without committing, so the
// next run finds them known; gc then collects them, keys and objects, as
// nothing references them.
func TestCheckpointKeysOutliveTheWriter(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "repo")
	if _, err := Init(ctx, dir, InitOptions{ChunkSize: MinChunkSize}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, dir, Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	cs := r.Config().ChunkSize
	data := make([]byte, 6*cs)
	rand.New(rand.NewSource(3)).Read(data)
	w := r.NewWriter()
	ids := addAll(t, w, data[:3*cs], cs)
	if err := w.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	addAll(t, w, data[3*cs:], cs) // stored, not checkpointed
	if w.Checkpoints() != 1 {
		t.Fatalf("%d checkpoints, want 1", w.Checkpoints())
	}
	r.Close() // the run ends without Commit

	r, err = Open(ctx, dir, Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i, id := range ids {
		if ok, err := r.chunkKnown(id); !ok || err != nil {
			t.Fatalf("checkpointed chunk %d unknown after reopening: %v", i, err)
		}
	}
	if ok, _ := r.chunkKnown(HashChunk(data[3*cs : 4*cs])); ok {
		t.Fatal("a chunk stored after the checkpoint is known")
	}
	res, err := r.GC(ctx, GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.DeletedObjects != 6 {
		t.Errorf("gc deleted %d objects, want the 6 unreferenced ones", res.DeletedObjects)
	}
	for i, id := range ids {
		if ok, _ := r.chunkKnown(id); ok {
			t.Errorf("gc left the key of unreferenced chunk %d", i)
		}
	}
	if objs := storeObjects(t, r); len(objs) != 0 {
		t.Errorf("gc left %d objects", len(objs))
	}
}

// TestCheckpointedChunksOfRunningWriterKept: gc keeps what a live Writer
// checkpointed (it waits for the Writer, as for any chunk in flight), and
// the point that Writer commits reads back whole.
func TestCheckpointedChunksOfRunningWriterKept(t *testing.T) {
	ctx := context.Background()
	r := testRepo1(t)
	cs := r.Config().ChunkSize
	data := make([]byte, 5*cs+100)
	rand.New(rand.NewSource(4)).Read(data)
	w := r.NewWriter()
	ids := addAll(t, w, data, cs)
	if err := w.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan *GCResult)
	go func() {
		res, err := r.GC(ctx, GCOptions{})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	time.Sleep(100 * time.Millisecond)
	mb := w.NewMapBuilder(int64(len(data)))
	for i, id := range ids {
		if err := mb.Set(ctx, int64(i), id); err != nil {
			t.Fatal(err)
		}
	}
	root, err := mb.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	m := &Manifest{VM: "b", Time: t0, Created: time.Now().UTC(), Disks: []DiskRecord{{Name: "disk0", Size: int64(len(data)), Map: root}}}
	if err := w.Commit(ctx, m); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res != nil && res.DeletedObjects != 0 {
		t.Fatalf("gc deleted %d objects of the writer", res.DeletedObjects)
	}
	checkPoint(t, r, "b", t0, data)
}
