package catalog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vmarchive/vmarchive/catalog/backend"
	"github.com/vmarchive/vmarchive/catalog/format"
)

// # Point locks (immutability)
//
// A point's lock date is recorded in the store as an empty object, a hold,
// holds/<p>/<until>, where points/<p> is the point's manifest and until
// is UTC as 20060102T150405Z; a point's date is the latest of its holds.
// Extending adds a hold (objects are immutable, and a hold under Object
// Lock cannot be replaced), so holds are never rewritten. Forget refuses
// a point whose date has not passed; gc therefore keeps its objects.
// Nothing else reads holds/, and the catalog caches none of it: every
// forget lists holds/ (one request), so a lock made on another host
// counts at once.
//
// When the backend is a backend.Locker (S3 with Object Lock), locking a
// point also gives every object it needs a retention of at least the
// date: its manifest, hold, configuration blobs, map blocks and chunks,
// and the repository's config, config.sealed and key files (without
// which nothing reads). Objects shared with other points keep the latest
// date; a retention is extended, never shortened.

// ErrPointLocked is wrapped when forget meets a point whose lock date
// has not passed.
var ErrPointLocked = errors.New("point is locked")

// holdTimeFormat is the date in a hold's name.
const holdTimeFormat = "20060102T150405Z"

// PointLock is a point and the date it is to be locked until.
type PointLock struct {
	ID    PointID   `json:"point"`
	Until time.Time `json:"until"`
}

// LockResult says what LockPoints did.
type LockResult struct {
	Points  []PointLock `json:"points"`  // the points' lock dates now
	Objects int         `json:"objects"` // store objects given a retention (0: the store cannot lock)
	Store   bool        `json:"store"`   // the store locks objects (S3 Object Lock)
}

func (r *Repo) holdPrefix(id PointID) string {
	return "holds/" + strings.TrimPrefix(r.manifestName(id), "points/") + "/"
}

// lockDates returns every point's lock date by manifest name.
func (r *Repo) lockDates(ctx context.Context) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := r.be.List(ctx, "holds/", func(name string, _ int64) error {
		if m, t, ok := parseHold(name); ok && t.After(out[m]) {
			out[m] = t
		} // else not a hold this build writes
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list point locks: %w", err)
	}
	return out, nil
}

// parseHold reads a hold's name: the manifest it locks and the date.
func parseHold(name string) (manifest string, until time.Time, ok bool) {
	rest, found := strings.CutPrefix(name, "holds/")
	i := strings.LastIndexByte(rest, '/')
	if !found || i <= 0 {
		return "", time.Time{}, false
	}
	t, err := time.Parse(holdTimeFormat, rest[i+1:])
	if err != nil {
		return "", time.Time{}, false
	}
	return "points/" + rest[:i], t, true
}

// LockDates returns the lock dates of ids (zero: never locked).
func (r *Repo) LockDates(ctx context.Context, ids []PointID) ([]time.Time, error) {
	all, err := r.lockDates(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]time.Time, len(ids))
	for i, id := range ids {
		out[i] = all[r.manifestName(id)]
	}
	return out, nil
}

// checkUnlocked refuses ids with a lock date after now, naming each.
func (r *Repo) checkUnlocked(ctx context.Context, ids []PointID) error {
	dates, err := r.LockDates(ctx, ids)
	if err != nil {
		return err
	}
	now := time.Now()
	var locked []string
	for i, d := range dates {
		if d.After(now) {
			locked = append(locked, fmt.Sprintf("%s until %s", ids[i], d.Format(time.RFC3339)))
		}
	}
	if len(locked) > 0 {
		return fmt.Errorf("%w: %s (a lock cannot be lifted or shortened; forget it after that date)", ErrPointLocked, strings.Join(locked, ", "))
	}
	return nil
}

// CheckLocking returns an error when the store is one that could lock
// objects but cannot (an s3 bucket without Object Lock); nil for a store
// that never can (a local directory: LockPoints only records dates).
func (r *Repo) CheckLocking(ctx context.Context) error {
	if l, ok := r.be.(backend.Locker); ok {
		return l.CheckLocking(ctx)
	}
	return nil
}

// LockPoints locks each point until its date. Strict, a date earlier
// than a point's present one is refused, naming it (nothing is changed);
// otherwise such a point keeps its later date. The same date again is
// allowed and makes sure the store's retentions are set.
func (r *Repo) LockPoints(ctx context.Context, locks []PointLock, strict bool) (*LockResult, error) {
	locker, _ := r.be.(backend.Locker)
	if err := r.CheckLocking(ctx); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	plan, grow, err := r.planLocks(ctx, locks, strict)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	res := &LockResult{Points: plan, Store: locker != nil}
	if err := r.putHolds(ctx, grow); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if locker != nil {
		if res.Objects, err = r.lockObjects(ctx, locker, plan); err != nil {
			return res, fmt.Errorf("lock: %w", err)
		}
	}
	return res, nil
}

// planLocks checks the points and dates and returns each point's date
// after the lock, and the points whose date grows.
func (r *Repo) planLocks(ctx context.Context, locks []PointLock, strict bool) (plan, grow []PointLock, err error) {
	ids := make([]PointID, len(locks))
	for i, l := range locks {
		if _, err := r.PointByID(l.ID); err != nil {
			return nil, nil, err
		}
		if !l.Until.After(time.Now()) {
			return nil, nil, fmt.Errorf("point %s: lock date %s has passed", l.ID, l.Until.UTC().Format(time.RFC3339))
		}
		ids[i] = l.ID
	}
	cur, err := r.LockDates(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	for i, l := range locks {
		until := l.Until.UTC().Add(time.Second - 1).Truncate(time.Second)
		if until.Before(cur[i]) {
			if strict {
				return nil, nil, fmt.Errorf("point %s is locked until %s: a lock is only ever extended, and %s is earlier", l.ID, cur[i].Format(time.RFC3339), until.Format(time.RFC3339))
			}
			until = cur[i]
		}
		plan = append(plan, PointLock{l.ID, until})
		if until.After(cur[i]) {
			grow = append(grow, plan[i])
		}
	}
	return plan, grow, nil
}

// putHolds records the dates (durable before any retention is set, so a
// lock cut short is seen by forget and finished by running it again).
func (r *Repo) putHolds(ctx context.Context, plan []PointLock) error {
	for _, l := range plan {
		if err := r.be.Put(ctx, r.holdName(l), []byte{}); err != nil {
			return fmt.Errorf("record the lock of %s: %w", l.ID, err)
		}
	}
	return backend.Sync(ctx, r.be)
}

func (r *Repo) holdName(l PointLock) string {
	return r.holdPrefix(l.ID) + l.Until.UTC().Format(holdTimeFormat)
}

// lockObjects gives every object the points need a retention of at least
// their date (the latest, for an object several need).
func (r *Repo) lockObjects(ctx context.Context, locker backend.Locker, plan []PointLock) (int, error) {
	want := map[string]time.Time{}
	need := func(name string, t time.Time) {
		if t.After(want[name]) {
			want[name] = t
		}
	}
	var latest time.Time
	for _, l := range plan {
		names, err := r.pointObjectNames(ctx, l.ID)
		if err != nil {
			return 0, err
		}
		for _, n := range append(names, r.holdName(l)) {
			need(n, l.Until)
		}
		if l.Until.After(latest) {
			latest = l.Until
		}
	}
	if err := r.repoObjectNames(ctx, func(n string) { need(n, latest) }); err != nil {
		return 0, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32) // the backend has its own request limits
	for name, until := range want {
		g.Go(func() error { return locker.LockUntil(gctx, name, until) })
	}
	return len(want), g.Wait()
}

// pointObjectNames returns the store names of every object point id
// needs: manifest, configuration blobs, map blocks and chunks.
func (r *Repo) pointObjectNames(ctx context.Context, id PointID) ([]string, error) {
	m, err := r.PointByID(id)
	if err != nil {
		return nil, err
	}
	var ids []ChunkID
	for _, c := range m.Config {
		ids = append(ids, c.ID)
	}
	var first error
	for i := range m.Disks {
		ids = append(ids, m.Disks[i].Map)
		r.walkMap(ctx, m, &m.Disks[i], func(kind string, cid ChunkID, _, _ int64, err error) {
			if err != nil && first == nil {
				first = fmt.Errorf("point %s disk %s %s: %w", id, m.Disks[i].Name, kind, err)
			}
			ids = append(ids, cid)
		})
	}
	if first != nil {
		return nil, first
	}
	names := []string{r.manifestName(id)}
	for _, cid := range compactIDs(ids) {
		if !cid.IsZero() {
			names = append(names, cid.ObjectName())
		}
	}
	return names, nil
}

// repoObjectNames calls fn with the repository's own objects that every
// read needs: config, and for an encrypted one config.sealed and keys/.
func (r *Repo) repoObjectNames(ctx context.Context, fn func(string)) error {
	fn(configName)
	if r.crypt == nil {
		return nil
	}
	fn(format.SealedConfigName)
	return r.be.List(ctx, format.KeyPrefix, func(name string, _ int64) error {
		fn(name)
		return nil
	})
}

// KeepLocked turns each removal in ds (decisions on vm's points, as
// PlanForget returns) of a point locked past now into a keep, with the
// reason "locked until DATE", so a policy forgets the others.
func (r *Repo) KeepLocked(ctx context.Context, vm string, ds []Decision) error {
	ids := make([]PointID, len(ds))
	for i, d := range ds {
		ids[i] = NewPointID(vm, d.Time)
	}
	dates, err := r.LockDates(ctx, ids)
	if err != nil {
		return err
	}
	now := time.Now()
	for i := range ds {
		if !ds[i].Keep && dates[i].After(now) {
			ds[i].Keep = true
			ds[i].Reasons = append(ds[i].Reasons, "locked until "+dates[i].Format(time.RFC3339))
		}
	}
	return nil
}

// PolicyLocks returns the locks that keep vm's points, as ds decides, until
// the policy could forget them (Decision.Until), for the dates ahead.
func PolicyLocks(vm string, ds []Decision) []PointLock {
	var locks []PointLock
	now := time.Now()
	for _, d := range ds {
		if d.Keep && d.Until.After(now) {
			locks = append(locks, PointLock{ID: NewPointID(vm, d.Time), Until: d.Until})
		}
	}
	return locks
}
