package catalog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vmarchive/vmarchive/catalog/backend"
)

// PlanForget applies p to the points of vm without changing anything; the
// decisions are newest first.
func (r *Repo) PlanForget(vm string, p Policy) ([]Decision, error) {
	times, err := r.PointTimes(vm)
	if err != nil {
		return nil, err
	}
	if len(times) == 0 {
		return nil, fmt.Errorf("VM %s has no points: %w", vm, ErrNotFound)
	}
	return p.Apply(times), nil
}

// Forget removes points of vm. Their data stays in the store until gc.
// A point whose lock date has not passed (pointlock.go) is refused, and
// then nothing is removed.
//
// The manifest objects go first, then one synced catalog batch removes the
// point keys. The store is the truth and the catalog its index, so the
// manifest going is what forgets a point: a crash in between leaves a
// point that the catalog still lists (whole and readable, and gc keeps its
// chunks because gc marks from the catalog as well as the store); `check` reports it and running
// forget again finishes the job. The other order could leave a manifest
// whose chunks gc has already removed, which `catalog rebuild` would bring
// back as a broken point.
func (r *Repo) Forget(ctx context.Context, vm string, times []time.Time) error {
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	ids := make([]PointID, 0, len(times))
	for _, t := range times {
		id := NewPointID(vm, t)
		if _, err := r.PointByID(id); err != nil {
			return fmt.Errorf("forget: %w", err)
		}
		ids = append(ids, id)
	}
	if err := r.checkUnlocked(ctx, ids); err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	for _, id := range ids {
		if err := r.be.Delete(ctx, r.manifestName(id)); err != nil && !errors.Is(err, backend.ErrNotFound) {
			return fmt.Errorf("forget %s: %w", id, err)
		}
	}
	if err := backend.Sync(ctx, r.be); err != nil {
		return fmt.Errorf("forget: make manifest removal durable: %w", err)
	}
	crashpoint("forget-manifests-gone")
	b := r.db.NewBatch()
	defer b.Close()
	for _, id := range ids {
		b.Delete(id.Key(), nil)
		if err := deleteDerived(b, id); err != nil {
			return fmt.Errorf("forget: %w", err)
		}
	}
	derivedMu.Lock() // no PutDerived between here and the commit (derived.go)
	defer derivedMu.Unlock()
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("forget: remove points from catalog: %w", err)
	}
	crashpoint("forget-committed")
	return nil
}
