package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vmarchive/vmarchive/catalog/format"
)

// # Refresh: other hosts' points
//
// The catalog of a repository in an object store is this host's cache of
// the bucket, which other hosts write too. Refresh lists points/ and
// compares the names with the catalog's points: a manifest the catalog
// lacks is read and added with the chunk keys of its objects when every
// object it references is in the store (as gc adopts one; the data/
// listing this needs is made only when there is a new manifest), and a
// catalog point whose manifest is gone (forgotten on another host) is
// dropped with its derived data. It runs under commitMu, so a point being
// committed here is never taken for one forgotten elsewhere.

// RefreshResult says what Refresh took from the store.
type RefreshResult struct {
	Added    []string `json:"added"`    // points ("vm/time") written by other hosts
	Dropped  []string `json:"dropped"`  // points whose manifests were forgotten elsewhere
	Warnings []string `json:"warnings"` // manifests not added, and why
}

// Shared reports whether other hosts may write the store: it is an object
// store, and the catalog here is a cache of it.
func (r *Repo) Shared() bool { return r.shared }

// Refresh brings the catalog up to date with the points in the store
// (see above). It does nothing for a repository whose store is local.
func (r *Repo) Refresh(ctx context.Context) (*RefreshResult, error) {
	res := &RefreshResult{}
	if !r.shared {
		return res, nil
	}
	if r.readOnly {
		return nil, errors.New("refresh the catalog: it is open read-only")
	}
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	var fresh []string
	cat, err := r.catalogPointNames()
	if err != nil {
		return nil, fmt.Errorf("refresh the catalog: %w", err)
	}
	err = r.be.List(ctx, "points/", func(name string, size int64) error {
		if _, ok := cat[name]; ok {
			delete(cat, name)
		} else {
			fresh = append(fresh, name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("refresh the catalog: %w", err)
	}
	if err := r.adoptFresh(ctx, fresh, res); err != nil {
		return nil, fmt.Errorf("refresh the catalog: %w", err)
	}
	if err := r.dropForgotten(cat, res); err != nil {
		return nil, fmt.Errorf("refresh the catalog: %w", err)
	}
	slices.Sort(res.Added)
	slices.Sort(res.Dropped)
	return res, nil
}

// catalogPointNames maps the manifest names of the catalog's points to
// their ids, reading keys only.
func (r *Repo) catalogPointNames() (map[string]PointID, error) {
	lo, hi := format.VMPrefix("")
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, fmt.Errorf("list points: %w", err)
	}
	defer it.Close()
	out := map[string]PointID{}
	for it.First(); it.Valid(); it.Next() {
		id, err := format.ParsePointKeyID(it.Key())
		if err != nil {
			return nil, err
		}
		out[r.manifestName(id)] = id
	}
	return out, it.Error()
}

// adoptFresh adds the whole manifests among names to the catalog.
func (r *Repo) adoptFresh(ctx context.Context, names []string, res *RefreshResult) error {
	if len(names) == 0 {
		return nil
	}
	objs, err := r.storeObjects(ctx)
	if err != nil {
		return err
	}
	plan := &gcPlan{}
	for _, name := range names {
		raw, m, err := r.getManifest(ctx, name)
		if blockLost(err) {
			// Forgotten since the listing, or damaged: gc and rebuild name it.
			res.Warnings = append(res.Warnings, fmt.Sprintf("manifest %s: %v (not added)", name, err))
			continue
		}
		if err != nil {
			return err
		}
		if err := r.planStored(ctx, plan, storedPoint{raw, m}, false, objs); err != nil {
			return err
		}
	}
	res.Warnings = append(res.Warnings, plan.warnings...)
	for _, s := range plan.adopt {
		res.Added = append(res.Added, s.m.ID().String())
	}
	return r.adopt(plan, objs)
}

// dropForgotten removes the points whose manifests are gone from the
// store, as Forget does.
func (r *Repo) dropForgotten(gone map[string]PointID, res *RefreshResult) error {
	if len(gone) == 0 {
		return nil
	}
	b := r.db.NewBatch()
	defer b.Close()
	for _, id := range gone {
		b.Delete(id.Key(), nil)
		if err := deleteDerived(b, id); err != nil {
			return err
		}
		res.Dropped = append(res.Dropped, id.String())
	}
	derivedMu.Lock()
	defer derivedMu.Unlock()
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("drop points forgotten elsewhere: %w", err)
	}
	return nil
}

// RefreshEvery refreshes the catalog every interval until ctx ends,
// logging what changed and any failure (a mount keeps serving what it
// has while the bucket is unreachable).
func (r *Repo) RefreshEvery(ctx context.Context, every time.Duration, logf func(string, ...any)) {
	if !r.shared || every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		res, err := r.Refresh(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			logf("%v (trying again in %s)", err, every)
		case err == nil:
			logRefresh(res, logf)
		}
	}
}

func logRefresh(res *RefreshResult, logf func(string, ...any)) {
	if len(res.Added) > 0 {
		logf("points from other hosts: %v", res.Added)
	}
	if len(res.Dropped) > 0 {
		logf("points forgotten on other hosts: %v", res.Dropped)
	}
	for _, w := range res.Warnings {
		logf("%s", w)
	}
}
