package catalog

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog/backend/s3"
	"github.com/vmarchive/vmarchive/catalog/backend/s3/s3test"
	"github.com/vmarchive/vmarchive/catalog/format"
)

// sharedBucket is one repository in a versitygw bucket; each host opens
// it with its own catalog cache, as two machines would.
type sharedBucket struct {
	srv *s3test.Server
	cfg s3.Config
	id  string
}

func newSharedBucket(t *testing.T) *sharedBucket { return newSharedBucketOf(t, false) }

// newSharedBucketOf is newSharedBucket in a bucket with Object Lock if locking.
func newSharedBucketOf(t *testing.T, locking bool) *sharedBucket {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	if locking {
		bucket = srv.LockedBucket(t)
	}
	sb := &sharedBucket{srv: srv, cfg: srv.Config(bucket, "repo")}
	cfg, err := Init(context.Background(), t.TempDir(), InitOptions{Chunking: format.DefaultChunking(MinChunkSize), Store: sb.backend(t)})
	if err != nil {
		t.Fatal(err)
	}
	sb.id = cfg.ID
	return sb
}

func (sb *sharedBucket) backend(t *testing.T) *s3.Backend {
	t.Helper()
	be, err := s3.New(context.Background(), sb.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return be
}

// host opens the repository as a new host with lock lease lease; log
// collects what it waited for.
func (sb *sharedBucket) host(t *testing.T, lease time.Duration, log *logLines) *Repo {
	t.Helper()
	r, err := Open(context.Background(), CacheDir(t.TempDir(), sb.id), Options{Store: sb.backend(t), Refresh: true, LockLease: lease, Log: log.add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

type logLines struct {
	mu    sync.Mutex
	lines []string
	seen  chan string // every line, if set
}

func (l *logLines) add(format string, args ...any) {
	if l == nil {
		return
	}
	s := fmt.Sprintf(format, args...)
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
	if l.seen != nil {
		select {
		case l.seen <- s:
		default:
		}
	}
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// sharedDisk is n chunks of Avg bytes, random from seed.
func sharedDisk(seed int64, n int) []byte {
	b := make([]byte, n*MinChunkSize)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// pausedPoint writes a one-disk point's chunks and map through a Writer
// without committing it; it returns the manifest to commit and how many
// data chunks were uploaded.
func pausedPoint(ctx context.Context, r *Repo, vm string, when time.Time, data []byte) (*Writer, *Manifest, int, error) {
	w := r.NewWriter()
	enc := NewEncoder()
	mb := w.NewMapBuilder(int64(len(data)))
	cs, uploaded := r.cfg.Chunking.Avg, 0
	for off := 0; off < len(data); off += cs {
		end := min(len(data), off+cs)
		res, err := w.Add(ctx, enc, data[off:end])
		if err != nil {
			return nil, nil, 0, err
		}
		if res.New {
			uploaded++
		}
		if err := mb.Append(ctx, Extent{Off: int64(off), Len: int64(end - off), ID: res.ID}); err != nil {
			return nil, nil, 0, err
		}
	}
	root, err := mb.Finish(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	m := &Manifest{VM: vm, Time: when, Created: time.Now().UTC(),
		Disks: []DiskRecord{{Name: "d0", Size: int64(len(data)), Map: root}}}
	return w, m, uploaded, nil
}

func writeShared(ctx context.Context, r *Repo, vm string, when time.Time, data []byte) (int, error) {
	w, m, n, err := pausedPoint(ctx, r, vm, when, data)
	if err != nil {
		return 0, err
	}
	return n, w.Commit(ctx, m)
}

// readShared reads point vm/when's disk d0 and compares it with want.
func readShared(t *testing.T, r *Repo, vm string, when time.Time, want []byte) {
	t.Helper()
	ctx := context.Background()
	p, err := r.PointByID(NewPointID(vm, when))
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.OpenDisk(ctx, p, "d0")
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if _, err := d.ReadAtContext(ctx, got, 0); err != nil {
		t.Fatalf("read %s/%s: %v", vm, when.Format(time.RFC3339), err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("point %s/%s reads back different bytes", vm, when.Format(time.RFC3339))
	}
}

func pointCount(t *testing.T, r *Repo) int {
	t.Helper()
	ps, err := r.Points("")
	if err != nil {
		t.Fatal(err)
	}
	return len(ps)
}

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// TestSharedHosts: two hosts ingest at once into one bucket, into the same
// VM and into different VMs; every point is whole, each host sees the
// other's points after a refresh, a point forgotten on one goes from the
// other, and data one host stored is not uploaded again by the other.
func TestSharedHosts(t *testing.T) {
	ctx := context.Background()
	sb := newSharedBucket(t)
	a, b := sb.host(t, 0, nil), sb.host(t, 0, nil)
	dA, dB, dC := sharedDisk(1, 6), sharedDisk(2, 6), sharedDisk(3, 6)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, job := range []struct {
		r    *Repo
		vm   string
		when time.Time
		data []byte
	}{{a, "web", t0, dA}, {b, "web", t0.Add(time.Hour), dB}, {b, "db", t0, dC}} {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = writeShared(ctx, job.r, job.vm, job.when, job.data) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for name, r := range map[string]*Repo{"a": a, "b": b} {
		res, err := r.Refresh(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := pointCount(t, r); n != 3 {
			t.Fatalf("host %s after refresh: %d points (added %v), want 3", name, n, res.Added)
		}
		readShared(t, r, "web", t0, dA)
		readShared(t, r, "web", t0.Add(time.Hour), dB)
		readShared(t, r, "db", t0, dC)
	}
	// Host a stores b's data as a new point: nothing is uploaded.
	n, err := writeShared(ctx, a, "db", t0.Add(time.Hour), dC)
	if err != nil || n != 0 {
		t.Fatalf("host a ingesting host b's data: %d chunks uploaded (%v), want 0", n, err)
	}
	if err := b.Forget(ctx, "web", []time.Time{t0}); err != nil {
		t.Fatal(err)
	}
	res, err := a.Refresh(ctx)
	if err != nil || len(res.Dropped) != 1 || res.Dropped[0] != "web/2026-11-01T00:00:00Z" || pointCount(t, a) != 3 {
		t.Fatalf("host a after b forgot web/%s: dropped %v (%v), %d points", t0.Format(time.RFC3339), res, err, pointCount(t, a))
	}
}

// TestSharedGCWaitsForWriter: a writer on host a has uploaded its chunks
// (or reused ones its catalog knows, of a point host b has forgotten) and
// not yet its manifest; b's gc waits for it, then keeps what the new point
// needs. Afterwards a's catalog still believes in chunks that gc removed;
// a's next ingest of their data stores them again.
func TestSharedGCWaitsForWriter(t *testing.T) {
	ctx := context.Background()
	sb := newSharedBucket(t)
	lease := 5 * time.Second
	a := sb.host(t, lease, nil)
	shared, only := sharedDisk(4, 4), sharedDisk(5, 3)
	if _, err := writeShared(ctx, a, "web", t0, append(bytes.Clone(shared), only...)); err != nil {
		t.Fatal(err)
	}
	log := &logLines{seen: make(chan string, 100)}
	b := sb.host(t, lease, log)
	if err := b.Forget(ctx, "web", []time.Time{t0}); err != nil {
		t.Fatal(err)
	}
	// a writes a point from the forgotten one's chunks, and pauses.
	w, m, up, err := pausedPoint(ctx, a, "web", t0.Add(time.Hour), shared)
	if err != nil || up != 0 {
		t.Fatalf("paused writer: %d chunks uploaded, %v; want the known ones reused", up, err)
	}
	type gcOut struct {
		res *GCResult
		err error
	}
	done := make(chan gcOut, 1)
	go func() {
		res, err := b.GC(ctx, GCOptions{Log: log.add})
		done <- gcOut{res, err}
	}()
	for waiting := false; !waiting; {
		select {
		case line := <-log.seen:
			waiting = strings.Contains(line, "waiting for an ingest on host")
		case g := <-done:
			t.Fatalf("gc ran while a writer held its lock: %+v, %v", g.res, g.err)
		}
	}
	if err := w.Commit(ctx, m); err != nil {
		t.Fatal(err)
	}
	g := <-done
	if g.err != nil {
		t.Fatal(g.err)
	}
	if g.res.DeletedObjects < 3 {
		t.Fatalf("gc deleted %d objects, want at least the 3 chunks only the forgotten point used", g.res.DeletedObjects)
	}
	readShared(t, a, "web", t0.Add(time.Hour), shared)
	if _, err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	readShared(t, b, "web", t0.Add(time.Hour), shared)
	// a's catalog still has keys of the chunks gc removed.
	n, err := writeShared(ctx, a, "db", t0, only)
	if err != nil || n != 3 {
		t.Fatalf("host a after b's gc: %d chunks uploaded (%v), want the 3 gc removed", n, err)
	}
	readShared(t, a, "db", t0, only)
	if _, err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	readShared(t, b, "db", t0, only)
}

// TestSharedDeadLocks: lock objects left by hosts that died (never
// refreshed) hold gc, and a writer, up for one lease only; they are
// removed and named.
func TestSharedDeadLocks(t *testing.T) {
	ctx := context.Background()
	sb := newSharedBucket(t)
	lease := 2 * time.Second
	log := &logLines{}
	a := sb.host(t, lease, log)
	be := sb.backend(t)
	dead := func(kind string) string {
		name := lockPrefix + "00dead00beef0000-" + kind
		b := fmt.Sprintf(`{"kind":%q,"host":"gone.example","pid":4242,"started":"2026-11-01T00:00:00Z","seq":7}`, kind)
		if err := be.Put(ctx, name, []byte(b)); err != nil {
			t.Fatal(err)
		}
		return name
	}
	for _, kind := range []string{lockWrite, lockGC} {
		name := dead(kind)
		var err error
		if kind == lockWrite {
			_, err = a.GC(ctx, GCOptions{Log: log.add})
		} else {
			_, err = writeShared(ctx, a, "web", t0, sharedDisk(6, 2))
		}
		if err != nil {
			t.Fatalf("with a dead %s lock: %v", kind, err)
		}
		if _, err := be.Get(ctx, name); err == nil {
			t.Fatalf("the dead %s lock %s is still there", kind, name)
		}
		if !strings.Contains(log.String(), `removed a`) || !strings.Contains(log.String(), `on host "gone.example" (pid 4242`) {
			t.Fatalf("log does not name the dead %s lock:\n%s", kind, log)
		}
	}
	var left []string
	be.List(ctx, lockPrefix, func(name string, _ int64) error { left = append(left, name); return nil })
	if len(left) != 0 {
		t.Fatalf("lock objects left after the writer and gc finished: %v", left)
	}
}

// TestSharedLockLost: a writer whose lock object was not rewritten for
// half a lease (its process paused, or the bucket unreachable) refuses to
// write its manifest, since another host may take it for dead from then.
func TestSharedLockLost(t *testing.T) {
	ctx := context.Background()
	sb := newSharedBucket(t)
	a := sb.host(t, time.Hour, nil)
	w, m, _, err := pausedPoint(ctx, a, "web", t0, sharedDisk(7, 2))
	if err != nil {
		t.Fatal(err)
	}
	a.locks.mu.Lock()
	h := a.locks.held[lockWrite]
	a.locks.mu.Unlock()
	h.mu.Lock()
	h.lastOK = time.Now().Add(-31 * time.Minute) // as if paused since
	h.mu.Unlock()
	err = w.Commit(ctx, m)
	if err == nil || !strings.Contains(err.Error(), "was not refreshed for 31m0s") || !strings.Contains(err.Error(), "run it again") {
		t.Fatalf("commit after the lock was lost: %v", err)
	}
	var manifests []string
	sb.backend(t).List(ctx, "points/", func(name string, _ int64) error { manifests = append(manifests, name); return nil })
	if len(manifests) != 0 || pointCount(t, a) != 0 {
		t.Fatalf("a point was written without a valid lock: %v", manifests)
	}
}

// TestSharedTwoGCs: gcs started at once on two hosts take turns; both
// finish, and the data of the remaining point survives both.
func TestSharedTwoGCs(t *testing.T) {
	ctx := context.Background()
	sb := newSharedBucket(t)
	a, b := sb.host(t, 2*time.Second, nil), sb.host(t, 2*time.Second, nil)
	keep, drop := sharedDisk(8, 2), sharedDisk(9, 2)
	for i, d := range [][]byte{keep, drop} {
		if _, err := writeShared(ctx, a, "web", t0.Add(time.Duration(i)*time.Hour), d); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Forget(ctx, "web", []time.Time{t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	res := make([]*GCResult, 2)
	errs := make([]error, 2)
	for i, r := range []*Repo{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); res[i], errs[i] = r.GC(ctx, GCOptions{}) }()
	}
	wg.Wait()
	for i := range res {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
	}
	if n := res[0].DeletedObjects + res[1].DeletedObjects; n < 2 {
		t.Fatalf("the two gcs deleted %d objects, want at least the forgotten point's 2 chunks", n)
	}
	for _, r := range []*Repo{a, b} {
		if _, err := r.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		readShared(t, r, "web", t0, keep)
	}
}
