package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vmarchive/vmarchive/catalog/backend"

	"github.com/vmarchive/vmarchive/catalog/format"
)

// zeros is compared against to find all-zero chunks.
var zeros = make([]byte, MaxChunkSize)

// IsZero reports whether b is all zeros.
func IsZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeros))
		if !bytes.Equal(b[:n], zeros[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// Writer adds chunks for one point and commits it. Add is safe for
// concurrent use; each goroutine brings its own Encoder.
type Writer struct {
	repo *Repo

	mu      sync.Mutex
	pending map[ChunkID]int // new objects of this writer: stored size; guarded by mu
	// storing holds the chunks an Add is storing, closed when it is done:
	// the same chunk added twice at once (two equal pieces of a disk on
	// two adders) is stored and counted once. Guarded by mu.
	storing map[ChunkID]chan struct{}
	blkEnc  *Encoder // encoder for map blocks; guarded by mu

	reg *writerReg // registration with gc (gc.go)

	ckpt ckptState // checkpoints (checkpoint.go)

	shareOnce sync.Once
	shareErr  error // from taking the write lock of a shared store
}

// NewWriter starts adding data for a new point. The Writer is done after
// Commit, whether Commit succeeds or not; one dropped without Commit is
// done when the Go runtime collects it.
func (r *Repo) NewWriter() *Writer {
	w := &Writer{repo: r, pending: map[ChunkID]int{}, storing: map[ChunkID]chan struct{}{}, blkEnc: NewEncoder(), reg: r.gc.join()}
	w.reg.locks = r.locks
	runtime.AddCleanup(w, r.gc.leave, w.reg)
	return w
}

// AddResult says what Add did with a chunk.
type AddResult struct {
	ID     ChunkID
	Zero   bool // all zeros: nothing hashed or stored
	New    bool // stored by this call
	Stored int  // stored size when New
}

// Add stores one chunk unless it is all zeros or already known. This is the
// only write path for chunks, and the only place their hash is computed.
func (w *Writer) Add(ctx context.Context, enc *Encoder, plain []byte) (AddResult, error) {
	return w.add1(ctx, enc, plain, false)
}

// AddRepair is Add for a chunk whose stored copy may be missing or damaged
// although the catalog knows it: it is stored again regardless, which
// heals the store.
func (w *Writer) AddRepair(ctx context.Context, enc *Encoder, plain []byte) (AddResult, error) {
	return w.add1(ctx, enc, plain, true)
}

func (w *Writer) add1(ctx context.Context, enc *Encoder, plain []byte, repair bool) (AddResult, error) {
	if IsZero(plain) {
		return AddResult{Zero: true}, nil
	}
	if err := w.share(ctx); err != nil {
		return AddResult{}, err
	}
	id := w.repo.HashChunk(plain)
	done, err := w.claim(ctx, id)
	if err != nil {
		return AddResult{}, err
	}
	defer done()
	known, err := w.known(id)
	if err != nil || (known && !repair) {
		return AddResult{ID: id}, err
	}
	// Replace, not Put: a copy stored under the name may be damaged (a
	// repair, or a chunk whose key verify dropped).
	stored := enc.Encode(plain)
	if c := w.repo.crypt; c != nil {
		stored = enc.Seal(c.aead, id.ObjectName(), stored)
	}
	if err := backend.Replace(ctx, w.repo.be, id.ObjectName(), stored); err != nil {
		return AddResult{}, fmt.Errorf("store chunk %s: %w", id, err)
	}
	w.mu.Lock()
	w.pending[id] = len(stored)
	w.mu.Unlock()
	if err := w.stored(ctx, len(stored)); err != nil {
		return AddResult{}, err
	}
	return AddResult{ID: id, New: true, Stored: len(stored)}, nil
}

// add stores a map block or config blob.
func (w *Writer) add(ctx context.Context, plain []byte) (ChunkID, bool, error) {
	id := w.repo.HashChunk(plain)
	if err := w.share(ctx); err != nil {
		return id, false, err
	}
	known, err := w.known(id)
	if err != nil || known {
		return id, false, err
	}
	w.mu.Lock()
	stored := w.repo.seal(id.ObjectName(), bytes.Clone(w.blkEnc.Encode(plain)))
	w.mu.Unlock()
	if err := backend.Replace(ctx, w.repo.be, id.ObjectName(), stored); err != nil {
		return id, false, fmt.Errorf("store block %s: %w", id, err)
	}
	w.mu.Lock()
	w.pending[id] = len(stored)
	w.mu.Unlock()
	return id, true, w.stored(ctx, len(stored))
}

// AddBlob stores a small whole object, such as a captured VM config file.
func (w *Writer) AddBlob(ctx context.Context, data []byte) (ChunkID, error) {
	id, _, err := w.add(ctx, data)
	return id, err
}

// claim waits while another Add stores id, then marks id as being stored
// by the caller until done is called.
func (w *Writer) claim(ctx context.Context, id ChunkID) (done func(), err error) {
	w.mu.Lock()
	for {
		ch, busy := w.storing[id]
		if !busy {
			break
		}
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		w.mu.Lock()
	}
	ch := make(chan struct{})
	w.storing[id] = ch
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		delete(w.storing, id)
		w.mu.Unlock()
		close(ch)
	}, nil
}

func (w *Writer) known(id ChunkID) (bool, error) {
	w.mu.Lock()
	_, ok := w.pending[id]
	w.mu.Unlock()
	if ok {
		return true, nil
	}
	// A running gc keeps what it is told about here; the shared lock
	// orders the lookup against its deletions.
	g := &w.repo.gc
	g.lock.RLock()
	defer g.lock.RUnlock()
	g.note(id)
	return w.repo.chunkKnown(id)
}

// Commit makes the point visible: chunks durable, then the manifest
// durable, then one synced catalog batch. A crash before the manifest is
// durable leaves no point, only unreferenced objects for gc; a crash
// after it leaves a whole point that gc adds to the catalog (gc.go).
func (w *Writer) Commit(ctx context.Context, m *Manifest) error {
	defer w.repo.gc.leave(w.reg)
	w.Stamp(m)
	if err := m.Validate(); err != nil {
		return err
	}
	if err := CheckPointTime(m.Time, time.Now()); err != nil {
		return fmt.Errorf("commit %s: %w", m.VM, err)
	}
	if err := w.share(ctx); err != nil {
		return fmt.Errorf("commit %s: %w", m.ID(), err)
	}
	be := w.repo.be
	if err := backend.Sync(ctx, be); err != nil {
		return fmt.Errorf("commit %s: make chunks durable: %w", m.ID(), err)
	}
	crashpoint("chunks-durable")
	w.repo.commitMu.Lock()
	defer w.repo.commitMu.Unlock()
	if _, err := w.repo.PointByID(m.ID()); err == nil {
		return fmt.Errorf("point %s: %w", m.ID(), ErrExists)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	if w.reg.overlap.Load() {
		if err := w.checkReused(ctx, m); err != nil {
			return err
		}
	}
	b, err := m.Encode()
	if err != nil {
		return err
	}
	if w.reg.bucket.Load() {
		if err := w.repo.locks.valid(lockWrite); err != nil {
			return fmt.Errorf("commit %s: %w; a gc on another host may have removed this ingest's chunks: run it again", m.ID(), err)
		}
	}
	name := w.repo.manifestName(m.ID())
	// A manifest already stored under the name, left by an ingest killed
	// before its catalog batch, is replaced: the catalog and the store
	// must hold the same bytes.
	if err := backend.Replace(ctx, be, name, w.repo.seal(name, b)); err != nil {
		return fmt.Errorf("commit %s: %w", m.ID(), err)
	}
	if err := backend.Sync(ctx, be); err != nil {
		return fmt.Errorf("commit %s: make manifest durable: %w", m.ID(), err)
	}
	crashpoint("manifest-durable")
	batch := w.repo.db.NewBatch()
	defer batch.Close()
	w.mu.Lock()
	for id, size := range w.pending {
		batch.Set(format.ChunkKey(id), format.EncodeChunkValue(size), nil)
	}
	w.mu.Unlock()
	batch.Set(m.ID().Key(), b, nil)
	if err := batch.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("commit %s to catalog: %w", m.ID(), err)
	}
	crashpoint("committed")
	return nil
}

// Stamp sets what Commit records in m of the repository's chunking (its
// version, chunk size or chunking): a copy of m stamped before the commit
// opens the point's maps as the committed point will.
func (w *Writer) Stamp(m *Manifest) {
	m.Version, m.ChunkSize, m.Chunking = 1, w.repo.cfg.ChunkSize, nil
	if c := w.repo.cfg.Chunking; c != nil {
		cc := *c
		m.Version, m.ChunkSize, m.Chunking = ManifestVersion, 0, &cc
	}
}

// share takes, once, the Repo's write lock in a shared store, so that no
// gc of another host runs until this Writer is done (bucketlock.go). The
// first Writer to take it checks the catalog's chunk keys against gc runs
// (gcgen.go) and refreshes it, so chunks other hosts stored are reused.
func (w *Writer) share(ctx context.Context) error {
	if !w.repo.shared {
		return nil
	}
	w.shareOnce.Do(func() {
		r := w.repo
		w.shareErr = r.locks.acquire(ctx, lockWrite, r.logf, func(ctx context.Context) error {
			if err := r.checkGCGen(ctx); err != nil {
				return err
			}
			res, err := r.Refresh(ctx)
			if err == nil {
				logRefresh(res, r.logf)
			}
			return err
		})
		if w.shareErr == nil {
			w.reg.bucket.Store(true)
		} else {
			w.shareErr = fmt.Errorf("take the write lock in the store: %w", w.shareErr)
		}
	})
	return w.shareErr
}

// crashpoint is Crashpoint (checkpoint.go) for the moments of a commit.
func crashpoint(name string) { Crashpoint(name) }
