package catalog

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vmarchive/vmarchive/catalog/backend"
	"github.com/vmarchive/vmarchive/catalog/format"
)

// # Checkpoints
//
// A long ingest or copy killed before its Commit would leave its chunks in
// the store but unknown to the catalog, so a re-run would store them all
// again. Every CheckpointBytes of newly stored objects (and whenever
// Checkpoint is called) a Writer makes what it stored durable and records
// the chunk keys in one synced batch. A re-run then finds them known and
// sends only the rest.
//
// Such keys belong to no point until the Commit: gc treats them as any
// unreferenced key and collects them (with their objects) unless a running
// Writer protects them. It does, as before: the Writer noted each one when
// it looked it up, or began before the gc run, which then waits for it.

// CheckpointBytes is how many stored bytes a Writer adds between automatic
// checkpoints; VMARCHIVE_CHECKPOINT_BYTES overrides it (tests use small
// values to checkpoint small images several times).
const CheckpointBytes = 256 << 20

var checkpointEvery = sync.OnceValue(func() int64 {
	if s := os.Getenv("VMARCHIVE_CHECKPOINT_BYTES"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return CheckpointBytes
})

// ckptState is a Writer's checkpoint bookkeeping.
type ckptState struct {
	mu    sync.Mutex           // held while a checkpoint runs
	done  map[ChunkID]struct{} // pending ids already in the catalog; guarded by Writer.mu
	since atomic.Int64         // stored bytes since the last checkpoint
	count atomic.Int64         // checkpoints that recorded keys
}

// Checkpoint makes the objects this Writer stored so far durable and
// records their chunk keys in the catalog, so a run that dies before
// Commit does not make the next one store them again.
func (w *Writer) Checkpoint(ctx context.Context) error {
	w.ckpt.mu.Lock()
	defer w.ckpt.mu.Unlock()
	return w.checkpoint(ctx)
}

// Checkpoints returns how many checkpoints recorded chunk keys.
func (w *Writer) Checkpoints() int64 { return w.ckpt.count.Load() }

// checkpoint runs with ckpt.mu held.
func (w *Writer) checkpoint(ctx context.Context) error {
	w.ckpt.since.Store(0)
	// Every id in pending was put before it was added there, so the Sync
	// below covers it.
	w.mu.Lock()
	var ids []ChunkID
	for id := range w.pending {
		if _, ok := w.ckpt.done[id]; !ok {
			ids = append(ids, id)
		}
	}
	sizes := make([]int, len(ids))
	for i, id := range ids {
		sizes[i] = w.pending[id]
	}
	w.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	if err := backend.Sync(ctx, w.repo.be); err != nil {
		return fmt.Errorf("checkpoint: make chunks durable: %w", err)
	}
	batch := w.repo.db.NewBatch()
	defer batch.Close()
	for i, id := range ids {
		batch.Set(format.ChunkKey(id), format.EncodeChunkValue(sizes[i]), nil)
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("checkpoint: record chunk keys: %w", err)
	}
	w.mu.Lock()
	if w.ckpt.done == nil {
		w.ckpt.done = map[ChunkID]struct{}{}
	}
	for _, id := range ids {
		w.ckpt.done[id] = struct{}{}
	}
	w.mu.Unlock()
	w.ckpt.count.Add(1)
	crashpoint("checkpoint")
	return nil
}

// stored counts n newly stored bytes and checkpoints when enough have
// accumulated. A checkpoint already running elsewhere covers them.
func (w *Writer) stored(ctx context.Context, n int) error {
	if w.ckpt.since.Add(int64(n)) < checkpointEvery() {
		return nil
	}
	if !w.ckpt.mu.TryLock() {
		return nil
	}
	defer w.ckpt.mu.Unlock()
	return w.checkpoint(ctx)
}

// Known reports whether the repository already has the object id (this
// Writer stored it or the catalog knows it), keeping it from a running gc
// as Add does: a copy takes such a chunk into its map without reading it.
func (w *Writer) Known(ctx context.Context, id ChunkID) (bool, error) {
	if err := w.share(ctx); err != nil {
		return false, err
	}
	return w.known(id)
}

// crashCounts counts how often each crash point was reached.
var crashCounts sync.Map // name -> *atomic.Int64

// Crashpoint kills the process at a named moment when VMARCHIVE_CRASHPOINT
// names it, as kill -9 would; crash-safety tests use it to stop a real
// ingest or copy exactly there. "name:N" kills at the Nth time only.
func Crashpoint(name string) {
	want, ok := os.LookupEnv("VMARCHIVE_CRASHPOINT")
	if !ok {
		return
	}
	wname, nth, _ := strings.Cut(want, ":")
	if wname != name {
		return
	}
	if nth != "" {
		n, _ := strconv.ParseInt(nth, 10, 64)
		c, _ := crashCounts.LoadOrStore(name, new(atomic.Int64))
		if c.(*atomic.Int64).Add(1) != n {
			return
		}
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}
