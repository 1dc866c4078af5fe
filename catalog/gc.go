package catalog

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vmarchive/vmarchive/catalog/backend"
	"github.com/vmarchive/vmarchive/catalog/format"
)

// # Garbage collection while ingests and reads run
//
// All writers live in the one process that holds the repository, so gc
// coordinates with them in memory (gcState):
//
//  1. gc starts a run: from now on every chunk a Writer looks up (known)
//     or puts into a map (MapBuilder.Set) is noted in the run's keep set,
//     and those Writers check that such a chunk still exists.
//  2. gc waits for the Writers that began before the run: what they looked
//     up earlier was not noted. A Writer leaves when it commits, or, if it
//     is dropped without committing, when the Go runtime collects it.
//  3. gc lists the store's objects, then, holding commitMu so that no
//     point is committed or forgotten meanwhile, compares the catalog's
//     points with the store's manifests and adds whole manifests the
//     catalog lacks to it (gcroots.go). It marks every object those
//     points and manifests reference (maps and config blobs); objects
//     stored after the listing are not candidates.
//  4. gc sweeps the catalog's chunk keys and the store's objects that are
//     neither marked nor noted, in batches; each batch holds gcState.lock
//     exclusively, which a Writer holds shared from noting a chunk to
//     deciding whether it is known. So a chunk is either noted before gc
//     looks at it (kept) or deleted before the Writer looks it up (the
//     Writer stores it again). Each batch removes the catalog keys first
//     (one synced batch), then the objects: a crash in between leaves
//     objects the catalog does not know, which the next gc removes.
//
// Readers need nothing: a point still listed has all its chunks. A file
// opened in the mount from a point that is forgotten and then collected
// reads EIO (missing chunk) for chunks not already in the cache.

// gcState coordinates gc with the Repo's Writers.
type gcState struct {
	// lock is held shared by a Writer while it notes a chunk and looks it
	// up, exclusively by gc while it deletes a batch.
	lock sync.RWMutex

	run atomic.Pointer[gcRun] // the running gc, nil when none

	mu      sync.Mutex
	writers map[*writerReg]bool // active writers; guarded by mu
	left    chan struct{}       // closed when a writer leaves; guarded by mu
}

// writerReg is a Writer's registration; the Writer points to it, not the
// other way round, so a dropped Writer can be collected.
type writerReg struct {
	overlap atomic.Bool // a gc ran during the Writer's life: check reused chunks
	// bucket: the Writer shares its Repo's write lock in a shared store
	// (bucketlock.go), released when it leaves.
	bucket atomic.Bool
	locks  *bucketLocks
}

type gcRun struct {
	mu   sync.Mutex
	keep map[ChunkID]struct{} // guarded by mu
}

func (g *gcState) join() *writerReg {
	reg := &writerReg{}
	reg.overlap.Store(g.run.Load() != nil)
	g.mu.Lock()
	if g.writers == nil {
		g.writers = map[*writerReg]bool{}
	}
	g.writers[reg] = true
	g.mu.Unlock()
	return reg
}

func (g *gcState) leave(reg *writerReg) {
	if reg.bucket.CompareAndSwap(true, false) {
		reg.locks.release(lockWrite)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.writers[reg] {
		return
	}
	delete(g.writers, reg)
	if g.left != nil {
		close(g.left)
		g.left = nil
	}
}

// note keeps id alive in a running gc. The caller holds lock shared.
func (g *gcState) note(id ChunkID) {
	if run := g.run.Load(); run != nil {
		run.mu.Lock()
		run.keep[id] = struct{}{}
		run.mu.Unlock()
	}
}

func (run *gcRun) kept(id ChunkID) bool {
	run.mu.Lock()
	defer run.mu.Unlock()
	_, ok := run.keep[id]
	return ok
}

// GCOptions tune GC.
type GCOptions struct {
	DryRun bool
	// Log, if set, receives progress lines ("waiting for 2 ingests").
	Log func(format string, args ...any)
}

// GCResult says what GC found and did.
type GCResult struct {
	LiveObjects    int64 `json:"live_objects"`
	LiveBytes      int64 `json:"live_bytes"` // stored bytes of the live objects
	DeletedObjects int64 `json:"deleted_objects"`
	DeletedBytes   int64 `json:"deleted_bytes"`  // stored bytes returned to the disk
	KeptInFlight   int64 `json:"kept_in_flight"` // garbage kept because an ingest used it
	KeptLocked     int64 `json:"kept_locked"`    // garbage the store keeps under retention (Object Lock)
	// Adopted names the points ("vm/time") whose whole manifests were in
	// the store but not in the catalog, and that gc added to it.
	Adopted []string `json:"adopted_points"`
	// Warnings name points that are not whole in both catalog and store.
	Warnings []string      `json:"warnings"`
	DryRun   bool          `json:"dry_run"`
	Duration time.Duration `json:"duration_ns"`
}

// gcBatch is how many objects one exclusive section deletes.
const gcBatch = 1024

// GC removes every stored object no point references. It is safe while
// ingests and reads run in this process (see the comment above gcState).
func (r *Repo) GC(ctx context.Context, opts GCOptions) (*GCResult, error) {
	start := time.Now()
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	run := &gcRun{keep: map[ChunkID]struct{}{}}
	if !r.gc.run.CompareAndSwap(nil, run) {
		return nil, errors.New("gc is already running")
	}
	defer r.gc.run.Store(nil)
	if r.shared {
		if err := r.gcShared(ctx, opts.DryRun, logf); err != nil {
			return nil, fmt.Errorf("gc: %w", err)
		}
		defer r.locks.release(lockGC)
	}
	if err := r.gcDrain(ctx, logf); err != nil {
		return nil, err
	}
	res := &GCResult{DryRun: opts.DryRun, Adopted: []string{}, Warnings: []string{}}
	objs, err := r.storeObjects(ctx)
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	roots, err := r.gcRoots(ctx, objs, res, logf)
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	live, err := r.mark(ctx, roots)
	if err != nil {
		return nil, fmt.Errorf("gc: mark: %w", err)
	}
	garbage, err := r.sweepCandidates(live, objs, res)
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	for len(garbage) > 0 {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		n := min(gcBatch, len(garbage))
		if r.shared {
			if err := r.locks.valid(lockGC); err != nil {
				return res, fmt.Errorf("gc: stopped before deleting more: %w", err)
			}
		}
		if err := r.deleteBatch(ctx, run, garbage[:n], res, opts.DryRun); err != nil {
			return res, fmt.Errorf("gc: %w", err)
		}
		garbage = garbage[n:]
	}
	res.Duration = time.Since(start)
	return res, nil
}

// gcShared takes the gc lock of a shared store (waiting for the other
// hosts' writers), brings the catalog up to date with the store and, unless
// dry, records the run so other hosts check their chunk keys (gcgen.go).
func (r *Repo) gcShared(ctx context.Context, dry bool, logf func(string, ...any)) error {
	if err := r.locks.acquire(ctx, lockGC, logf, nil); err != nil {
		return err
	}
	if dry {
		return nil
	}
	res, err := r.Refresh(ctx)
	if err == nil {
		logRefresh(res, logf)
		err = r.newGCGen(ctx)
	}
	if err != nil {
		r.locks.release(lockGC)
	}
	return err
}

// gcRoots plans the roots and adds the whole manifests the catalog lacks
// to it (gcroots.go), while no point is committed or forgotten.
func (r *Repo) gcRoots(ctx context.Context, objs []objSize, res *GCResult, logf func(string, ...any)) ([]gcRoot, error) {
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	plan, err := r.planRoots(ctx, objs)
	if err != nil {
		return nil, err
	}
	for _, w := range plan.warnings {
		logf("%s", w)
	}
	res.Warnings = append(res.Warnings, plan.warnings...)
	for _, s := range plan.adopt {
		res.Adopted = append(res.Adopted, s.m.ID().String())
	}
	if !res.DryRun {
		if err := r.adopt(plan, objs); err != nil {
			return nil, err
		}
	}
	return plan.roots, nil
}

// gcDrain waits until the Writers active when the run began have left.
func (r *Repo) gcDrain(ctx context.Context, logf func(string, ...any)) error {
	g := &r.gc
	g.mu.Lock()
	old := make([]*writerReg, 0, len(g.writers))
	for reg := range g.writers {
		reg.overlap.Store(true)
		old = append(old, reg)
	}
	g.mu.Unlock()
	for waited := 0; ; waited++ {
		g.mu.Lock()
		active := 0
		for _, reg := range old {
			if g.writers[reg] {
				active++
			}
		}
		if g.left == nil {
			g.left = make(chan struct{})
		}
		left := g.left
		g.mu.Unlock()
		if active == 0 {
			return nil
		}
		if waited%10 == 0 {
			logf("waiting for %d ingests that began before gc", active)
			// A Writer dropped without Commit leaves when collected.
			runtime.GC()
		}
		select {
		case <-left:
		case <-time.After(time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// liveSet is a sorted, duplicate-free list of ids: 32 bytes per object.
type liveSet []ChunkID

func (s liveSet) has(id ChunkID) bool {
	_, ok := slices.BinarySearchFunc(s, id, cmpID)
	return ok
}

func cmpID(a, b ChunkID) int { return strings.Compare(string(a[:]), string(b[:])) }

func compactIDs(ids []ChunkID) []ChunkID {
	slices.SortFunc(ids, cmpID)
	return slices.Compact(ids)
}

// mark returns every object the roots reference. Leaves shared between
// points are read once. An unreadable map block stops gc (without it the
// live set is unknown), except a lost one of a lenient root.
func (r *Repo) mark(ctx context.Context, roots []gcRoot) (liveSet, error) {
	var ids []ChunkID
	compacted := 0
	seen := map[ChunkID]bool{}
	add := func(id ChunkID) {
		if !id.IsZero() {
			ids = append(ids, id)
		}
		if len(ids) > 2*compacted+1<<16 {
			ids = compactIDs(ids)
			compacted = len(ids)
		}
	}
	for _, root := range roots {
		p := root.m
		lost := func(err error) bool { return root.lenient && blockLost(err) }
		for _, c := range p.Config {
			add(c.ID)
		}
		for i := range p.Disks {
			d := &p.Disks[i]
			add(d.Map)
			m, err := r.OpenDiskMap(ctx, p, d)
			if lost(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("point %s: %w", p.ID(), err)
			}
			err = m.walk(ctx, walkOptions{noCache: true, seen: seen}, func(_ string, id ChunkID, err error) (bool, error) {
				add(id)
				if err != nil && !lost(err) {
					return false, fmt.Errorf("point %s disk %s: %w", p.ID(), d.Name, err)
				}
				return err == nil, nil
			}, func(e Extent) error {
				add(e.ID)
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	return liveSet(compactIDs(ids)), nil
}

// garbageObject is an object to delete.
type garbageObject struct {
	id      ChunkID
	size    int64
	catalog bool // has a catalog key
	keyOnly bool // live but missing from the store: only the key goes
}

// sweepCandidates lists the catalog's chunk keys and the store's data
// objects (objs, listed before marking) that live does not hold.
func (r *Repo) sweepCandidates(live liveSet, objs []objSize, res *GCResult) ([]garbageObject, error) {
	// The catalog iterates in key order, so inCatalog is sorted.
	var inCatalog, orphans []garbageObject
	err := r.chunkSizes(func(id ChunkID, size int64) {
		if !live.has(id) {
			inCatalog = append(inCatalog, garbageObject{id: id, size: size, catalog: true})
		} else if _, ok := findObj(objs, id); !ok {
			// A key of a lost object would make ingests reuse it: drop
			// the key so the next ingest of its data stores it again.
			inCatalog = append(inCatalog, garbageObject{id: id, catalog: true, keyOnly: true})
		}
	})
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		if live.has(o.id) {
			res.LiveObjects++
			res.LiveBytes += o.size
			continue
		}
		if i, ok := slices.BinarySearchFunc(inCatalog, o.id, func(g garbageObject, id ChunkID) int { return cmpID(g.id, id) }); ok {
			inCatalog[i].size = o.size
			continue
		}
		orphans = append(orphans, garbageObject{id: o.id, size: o.size})
	}
	return append(inCatalog, orphans...), nil
}

// deleteBatch removes a batch of garbage under the exclusive lock: the
// catalog keys (synced), then the objects.
func (r *Repo) deleteBatch(ctx context.Context, run *gcRun, objs []garbageObject, res *GCResult, dry bool) error {
	r.gc.lock.Lock()
	defer r.gc.lock.Unlock()
	b := r.db.NewBatch()
	defer b.Close()
	doomed := objs[:0:0]
	for _, o := range objs {
		if run.kept(o.id) {
			res.KeptInFlight++
			continue
		}
		doomed = append(doomed, o)
		if o.catalog {
			b.Delete(format.ChunkKey(o.id), nil)
		}
	}
	if dry {
		for _, o := range doomed {
			if o.keyOnly {
				continue
			}
			res.DeletedObjects++
			res.DeletedBytes += o.size
		}
		return nil
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("remove chunk keys: %w", err)
	}
	crashpoint("gc-keys-removed")
	for _, o := range doomed {
		if o.keyOnly {
			continue
		}
		err := r.be.Delete(ctx, o.id.ObjectName())
		if errors.Is(err, backend.ErrLocked) {
			// Under retention (an ingest with --lock-days cut short, or
			// a retention rounded past its point's date): it goes at a
			// gc after the date.
			res.KeptLocked++
			continue
		}
		if err != nil && !errors.Is(err, backend.ErrNotFound) {
			return err
		}
		res.DeletedObjects++
		res.DeletedBytes += o.size
	}
	return nil
}

// checkReused runs at Commit when a gc ran during the Writer's life: every
// object the point references must still exist (a chunk taken from a
// point that was forgotten and collected meanwhile would not), and a gc
// still running must keep them.
func (w *Writer) checkReused(ctx context.Context, m *Manifest) error {
	g := &w.repo.gc
	g.lock.RLock()
	defer g.lock.RUnlock()
	var first error
	check := func(id ChunkID, where string) {
		if id.IsZero() || first != nil {
			return
		}
		w.mu.Lock()
		_, mine := w.pending[id]
		w.mu.Unlock()
		if mine {
			return
		}
		g.note(id)
		ok, err := w.repo.chunkKnown(id)
		if err == nil && !ok {
			err = fmt.Errorf("%s: chunk %s was removed by a gc that ran during this ingest (the point it was taken from was forgotten); run the ingest again: %w", where, id, ErrNotFound)
		}
		if err != nil {
			first = fmt.Errorf("commit %s: %w", m.ID(), err)
		}
	}
	for name, c := range m.Config {
		check(c.ID, "config "+name)
	}
	for i := range m.Disks {
		d := &m.Disks[i]
		w.repo.walkMap(ctx, m, d, func(kind string, id ChunkID, off, _ int64, err error) {
			if err != nil && first == nil {
				first = fmt.Errorf("commit %s disk %s: %w", m.ID(), d.Name, err)
			}
			check(id, fmt.Sprintf("disk %s %s at offset %d", d.Name, kind, off))
		})
	}
	return first
}
