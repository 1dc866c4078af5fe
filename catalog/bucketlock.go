package catalog

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vmarchive/vmarchive/catalog/backend"
)

// # Lock objects in a shared store
//
// Hosts sharing a bucket coordinate through objects under locks/ (see the
// package comment, "Several hosts on one bucket"). An open Repo is one
// owner (16 random hex digits); while it has writers it holds
// locks/<owner>-write, while gc runs locks/<owner>-gc. Writers of other
// owners exclude gc; gc excludes the writers and gcs of other owners.
// A holder rewrites its object every lease/4. Another host takes a lock
// for dead when it has seen the same bytes for a whole lease by its own
// clock, and deletes it; a holder whose last rewrite is lease/2 old takes
// its lock for lost, so it has stopped trusting the lock before anyone
// else can conclude it is dead.

// DefaultLockLease is how long a lock object may stay unchanged before
// other hosts take its holder for dead.
const DefaultLockLease = 5 * time.Minute

// defaultLease is DefaultLockLease, or VMARCHIVE_LOCK_LEASE (a Go
// duration) when set: tests of commands use seconds.
func defaultLease() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("VMARCHIVE_LOCK_LEASE")); err == nil && d >= 100*time.Millisecond {
		return d
	}
	return DefaultLockLease
}

const (
	lockPrefix = "locks/"
	lockWrite  = "write"
	lockGC     = "gc"
	// gcGenName holds the id of the last gc run that may have deleted
	// objects; a host seeing a new one checks its chunk keys (gcgen.go).
	gcGenName = "gcgen"
)

// lockInfo is the content of a lock object (sealed in an encrypted
// repository).
type lockInfo struct {
	Kind      string    `json:"kind"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Started   time.Time `json:"started"`
	Refreshed time.Time `json:"refreshed"` // informative: others go by their own clocks
	Seq       int64     `json:"seq"`
}

// bucketLocks are the lock objects of one open Repo.
type bucketLocks struct {
	r     *Repo
	owner string
	lease time.Duration

	// writeMu and gcMu are held while a lock of their kind is taken, so
	// a second taker of the kind waits and then shares it.
	writeMu, gcMu sync.Mutex

	mu   sync.Mutex
	held map[string]*heldLock // by kind; guarded by mu
}

// heldLock is one lock object this owner holds.
type heldLock struct {
	refs int // guarded by bucketLocks.mu
	stop chan struct{}
	done chan struct{}

	mu     sync.Mutex
	info   lockInfo  // guarded by mu
	lastOK time.Time // last successful write; guarded by mu
	lost   error     // set once for good; guarded by mu
}

func newBucketLocks(r *Repo, lease time.Duration) *bucketLocks {
	if lease <= 0 {
		lease = defaultLease()
	}
	b := make([]byte, 8)
	rand.Read(b)
	return &bucketLocks{r: r, owner: hex.EncodeToString(b), lease: lease, held: map[string]*heldLock{}}
}

func (l *bucketLocks) name(kind string) string { return lockPrefix + l.owner + "-" + kind }

// acquire takes (or, when this owner holds it, shares) the lock of kind,
// waiting while another owner's conflicting lock is live. first runs once
// the lock is newly taken, before acquire returns (and before anyone
// shares it).
func (l *bucketLocks) acquire(ctx context.Context, kind string, logf func(string, ...any), first func(context.Context) error) error {
	km := &l.writeMu
	if kind == lockGC {
		km = &l.gcMu
	}
	km.Lock()
	defer km.Unlock()
	l.mu.Lock()
	if h := l.held[kind]; h != nil {
		h.refs++
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	h := &heldLock{refs: 1, stop: make(chan struct{}), done: make(chan struct{})}
	host, _ := os.Hostname()
	h.info = lockInfo{Kind: kind, Host: host, PID: os.Getpid(), Started: time.Now().UTC()}
	if err := l.wait(ctx, kind, h, logf); err != nil {
		return err
	}
	go l.refresh(h, kind)
	l.mu.Lock()
	l.held[kind] = h
	l.mu.Unlock()
	if first != nil {
		if err := first(ctx); err != nil {
			l.release(kind)
			return err
		}
	}
	return nil
}

// wait puts this owner's lock object and returns once no live lock of
// another owner conflicts with it. A writer takes its object away while
// it waits (so a waiting gc is not kept waiting by it); a gc keeps its
// own unless another gc runs.
func (l *bucketLocks) wait(ctx context.Context, kind string, h *heldLock, logf func(string, ...any)) error {
	seen := map[string]seenLock{}
	poll := min(max(l.lease/10, 50*time.Millisecond), 5*time.Second)
	put := false
	for waited := 0; ; waited++ {
		if !put || h.since() >= l.lease/4 { // a gc waiting keeps its object fresh
			if err := l.write(ctx, kind, h); err != nil {
				return err
			}
			put = true
		}
		live, err := l.conflicts(ctx, kind, seen, logf)
		if err != nil {
			l.r.be.Delete(context.WithoutCancel(ctx), l.name(kind))
			return err
		}
		if len(live) == 0 {
			if h.since() >= l.lease/8 { // the refresher's first write is lease/4 away
				return l.write(ctx, kind, h)
			}
			return nil
		}
		backOff := kind == lockWrite || slicesHasGC(live)
		if backOff {
			if err := l.r.be.Delete(ctx, l.name(kind)); err != nil && !errors.Is(err, backend.ErrNotFound) {
				return fmt.Errorf("take away lock object %s: %w", l.name(kind), err)
			}
			put = false
		}
		if waited%int(max(1, time.Minute/poll)) == 0 {
			logf("waiting for %s", describeLocks(live))
		}
		jitter := time.Duration(mrand(int64(poll)))
		select {
		case <-ctx.Done():
			if put {
				l.r.be.Delete(context.WithoutCancel(ctx), l.name(kind))
			}
			return ctx.Err()
		case <-time.After(poll + jitter):
		}
	}
}

// seenLock is when this host first saw a lock object with these bytes.
type seenLock struct {
	data  []byte
	since time.Time
}

// conflicts returns the live locks of other owners that conflict with
// kind; those unchanged for a lease are deleted as their holders' dead.
func (l *bucketLocks) conflicts(ctx context.Context, kind string, seen map[string]seenLock, logf func(string, ...any)) ([]lockInfo, error) {
	var names []string
	err := l.r.be.List(ctx, lockPrefix, func(name string, _ int64) error {
		owner, k, ok := strings.Cut(strings.TrimPrefix(name, lockPrefix), "-")
		if ok && owner != l.owner && (k == lockGC || kind == lockGC && k == lockWrite) {
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list lock objects: %w", err)
	}
	var live []lockInfo
	for _, name := range names {
		data, err := l.r.be.Get(ctx, name)
		if errors.Is(err, backend.ErrNotFound) {
			continue // released meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("read lock object: %w", err)
		}
		info := l.decode(name, data)
		s, ok := seen[name]
		if !ok || !bytes.Equal(s.data, data) {
			seen[name] = seenLock{data, time.Now()}
		} else if time.Since(s.since) >= l.lease {
			if err := l.r.be.Delete(ctx, name); err != nil && !errors.Is(err, backend.ErrNotFound) {
				return nil, fmt.Errorf("remove dead lock object %s: %w", name, err)
			}
			logf("removed %s: unchanged for %s, its holder is taken for dead", describeLocks([]lockInfo{info}), l.lease)
			continue
		}
		live = append(live, info)
	}
	return live, nil
}

func (l *bucketLocks) decode(name string, data []byte) lockInfo {
	info := lockInfo{Kind: "unreadable lock " + name}
	if plain, err := l.r.unseal(name, bytes.Clone(data), true); err == nil {
		json.Unmarshal(plain, &info)
	}
	return info
}

func slicesHasGC(ls []lockInfo) bool {
	for _, i := range ls {
		if i.Kind == lockGC {
			return true
		}
	}
	return false
}

func describeLocks(ls []lockInfo) string {
	parts := make([]string, len(ls))
	for i, x := range ls {
		what := map[string]string{lockWrite: "an ingest", lockGC: "a gc"}[x.Kind]
		if what == "" {
			what = x.Kind
		}
		parts[i] = fmt.Sprintf("%s on host %q (pid %d, since %s)", what, x.Host, x.PID, x.Started.Format(time.RFC3339))
	}
	return strings.Join(parts, ", ")
}

// write puts this owner's lock object with the next sequence number.
func (l *bucketLocks) write(ctx context.Context, kind string, h *heldLock) error {
	h.mu.Lock()
	h.info.Seq++
	h.info.Refreshed = time.Now().UTC()
	b, _ := json.Marshal(h.info)
	h.mu.Unlock()
	name := l.name(kind)
	if err := backend.Replace(ctx, l.r.be, name, l.r.seal(name, b)); err != nil {
		return fmt.Errorf("write lock object: %w", err)
	}
	h.mu.Lock()
	h.lastOK = time.Now()
	h.mu.Unlock()
	return nil
}

// refresh rewrites the lock object every lease/4 until released. Once its
// last write is lease/2 old the lock is lost for good.
func (l *bucketLocks) refresh(h *heldLock, kind string) {
	defer close(h.done)
	t := time.NewTicker(l.lease / 4)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		if h.check(l.lease) != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.lease/4)
		err := l.write(ctx, kind, h)
		cancel()
		if err != nil {
			l.r.logf("refresh %s: %v", l.name(kind), err)
		}
	}
}

// since is how long ago the lock object was last written.
func (h *heldLock) since() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return time.Since(h.lastOK)
}

// check returns an error once the lock cannot be trusted.
func (h *heldLock) check(lease time.Duration) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost == nil && time.Since(h.lastOK) >= lease/2 {
		h.lost = fmt.Errorf("the lock object in the store was not refreshed for %s (the store unreachable, or this process paused): other hosts may take it for dead after %s", time.Since(h.lastOK).Round(time.Second), lease)
	}
	return h.lost
}

// valid returns an error if the lock of kind is not held or lost.
func (l *bucketLocks) valid(kind string) error {
	l.mu.Lock()
	h := l.held[kind]
	l.mu.Unlock()
	if h == nil {
		return fmt.Errorf("no %s lock held in the store", kind)
	}
	return h.check(l.lease)
}

// release drops one reference to the lock of kind; the last removes it.
func (l *bucketLocks) release(kind string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.releaseLocked(kind)
}

func (l *bucketLocks) releaseLocked(kind string) {
	h := l.held[kind]
	if h == nil {
		return
	}
	if h.refs--; h.refs > 0 {
		return
	}
	delete(l.held, kind)
	close(h.stop)
	<-h.done
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := l.r.be.Delete(ctx, l.name(kind)); err != nil && !errors.Is(err, backend.ErrNotFound) {
		l.r.logf("remove lock object %s: %v (others take it for dead after %s)", l.name(kind), err, l.lease)
	}
}

// close releases every lock of the Repo.
func (l *bucketLocks) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for kind, h := range l.held {
		h.refs = 1
		l.releaseLocked(kind)
	}
}

// mrand returns a random duration in [0, n).
func mrand(n int64) int64 {
	if n <= 0 {
		return 0
	}
	b := make([]byte, 8)
	rand.Read(b)
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return int64(v % uint64(n))
}
