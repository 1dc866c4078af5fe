package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vmarchive/vmarchive/catalog/backend"
	"github.com/vmarchive/vmarchive/catalog/format"
)

// # gc's roots
//
// The store is the truth and the catalog its index, but either can hold a
// point the other lacks: a kill after the manifest is durable and before
// the catalog batch, or a catalog restored from an older copy, leaves a
// manifest the catalog does not list; an interrupted forget leaves a
// catalog point whose manifest is gone. gc marks from both, so it deletes
// nothing that either references. A manifest the catalog lacks (or holds
// with other bytes) is added to the catalog when every object it
// references is in the store; otherwise it is reported and left out, its
// surviving objects kept.

// gcRoot is a point gc marks from.
type gcRoot struct {
	m *Manifest
	// lenient: the point is not whole in both catalog and store, so a
	// missing or damaged map block is skipped instead of stopping gc.
	lenient bool
}

// storedPoint is a manifest as stored, in the store or the catalog.
type storedPoint struct {
	raw []byte
	m   *Manifest
}

// gcPlan is what gc marks from and what it adds to the catalog first.
type gcPlan struct {
	roots    []gcRoot
	adopt    []storedPoint
	ids      [][]ChunkID // objects of adopt[i], for their chunk keys
	warnings []string
}

// planRoots compares the catalog's points with the store's manifests.
// objs is the store's data listing, sorted by id.
func (r *Repo) planRoots(ctx context.Context, objs []objSize) (*gcPlan, error) {
	cat, err := r.catalogPoints()
	if err != nil {
		return nil, err
	}
	stored, err := r.storeManifests(ctx)
	if err != nil {
		return nil, err
	}
	plan := &gcPlan{}
	inStore := map[string]bool{}
	for _, s := range stored {
		name := r.manifestName(s.m.ID())
		inStore[name] = true
		c, inCat := cat[name]
		if inCat && bytes.Equal(c.raw, s.raw) {
			plan.roots = append(plan.roots, gcRoot{m: s.m})
			delete(cat, name)
			continue
		}
		if err := r.planStored(ctx, plan, s, inCat, objs); err != nil {
			return nil, err
		}
	}
	for name, c := range cat {
		// Kept this run: a catalog copy that differs from the store's, or
		// a point whose manifest is gone (its forget was interrupted).
		plan.roots = append(plan.roots, gcRoot{m: c.m, lenient: true})
		if !inStore[name] {
			plan.warnings = append(plan.warnings, fmt.Sprintf("point %s: in the catalog but its manifest %s is not in the store (an interrupted forget, or a catalog older than the store): its objects are kept; vmarchive forget --vm %s --point %s removes it", c.m.ID(), name, c.m.VM, c.m.Name()))
		}
	}
	slices.Sort(plan.warnings)
	return plan, nil
}

// planStored plans a store manifest the catalog lacks or holds with other
// bytes: added to the catalog if whole, else named; a root either way.
func (r *Repo) planStored(ctx context.Context, plan *gcPlan, s storedPoint, inCat bool, objs []objSize) error {
	ids, missing, err := r.pointObjects(ctx, s.m, objs)
	if err != nil {
		return fmt.Errorf("point %s: %w", s.m.ID(), err)
	}
	plan.roots = append(plan.roots, gcRoot{m: s.m, lenient: missing > 0})
	if missing == 0 {
		plan.adopt = append(plan.adopt, s)
		plan.ids = append(plan.ids, ids)
		return nil
	}
	where := "is in the store but not in the catalog"
	if inCat {
		where = "in the store differs from the catalog's copy"
	}
	plan.warnings = append(plan.warnings, fmt.Sprintf("point %s: its manifest %s %s, and %d of the objects it references are missing or damaged: not added to the catalog, its other objects kept (vmarchive catalog rebuild lists it as damaged; forget then removes it)", s.m.ID(), r.manifestName(s.m.ID()), where, missing))
	return nil
}

// adopt adds the planned manifests to the catalog with the chunk keys of
// their objects, in one synced batch; a point the catalog held with other
// bytes loses its derived data.
func (r *Repo) adopt(plan *gcPlan, objs []objSize) error {
	if len(plan.adopt) == 0 {
		return nil
	}
	b := r.db.NewBatch()
	defer b.Close()
	for i, s := range plan.adopt {
		for _, id := range plan.ids[i] {
			size, _ := findObj(objs, id)
			b.Set(format.ChunkKey(id), format.EncodeChunkValue(int(size)), nil)
		}
		b.Set(s.m.ID().Key(), s.raw, nil)
		if err := deleteDerived(b, s.m.ID()); err != nil {
			return err
		}
	}
	derivedMu.Lock()
	defer derivedMu.Unlock()
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("add manifests from the store to the catalog: %w", err)
	}
	crashpoint("gc-adopted")
	return nil
}

// pointObjects returns the objects m references and how many of them are
// missing from objs or unreadable (map blocks).
func (r *Repo) pointObjects(ctx context.Context, m *Manifest, objs []objSize) ([]ChunkID, int, error) {
	var ids []ChunkID
	lost := map[ChunkID]bool{} // unreadable map blocks
	var first error
	for _, c := range m.Config {
		ids = append(ids, c.ID)
	}
	for i := range m.Disks {
		r.walkMap(ctx, m, &m.Disks[i], func(kind string, id ChunkID, off, _ int64, err error) {
			switch {
			case err == nil:
				ids = append(ids, id)
			case blockLost(err):
				lost[id] = true
			case first == nil:
				first = fmt.Errorf("disk %s %s: %w", m.Disks[i].Name, kind, err)
			}
		})
	}
	ids = compactIDs(slices.DeleteFunc(ids, ChunkID.IsZero))
	missing := len(lost)
	for _, id := range ids {
		if _, ok := findObj(objs, id); !ok && !lost[id] {
			missing++
		}
	}
	return ids, missing, first
}

// blockLost reports whether err says an object is gone or damaged for
// good, rather than unreadable now.
func blockLost(err error) bool {
	return errors.Is(err, backend.ErrNotFound) || errors.Is(err, ErrCorrupt)
}

// catalogPoints returns the catalog's points by manifest object name.
func (r *Repo) catalogPoints() (map[string]storedPoint, error) {
	lo, hi := format.VMPrefix("")
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, fmt.Errorf("list points: %w", err)
	}
	defer it.Close()
	out := map[string]storedPoint{}
	for it.First(); it.Valid(); it.Next() {
		m, err := decodeCatalogPoint(it.Key(), it.Value())
		if err != nil {
			return nil, err
		}
		out[r.manifestName(m.ID())] = storedPoint{bytes.Clone(it.Value()), m}
	}
	return out, it.Error()
}

// storeManifests reads every manifest in the store. One that cannot be
// decoded stops gc: what it references is unknown.
func (r *Repo) storeManifests(ctx context.Context) ([]storedPoint, error) {
	var names []string
	err := r.be.List(ctx, "points/", func(name string, size int64) error {
		names = append(names, name)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]storedPoint, 0, len(names))
	for _, name := range names {
		raw, m, err := r.getManifest(ctx, name)
		if err != nil && !blockLost(err) {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("manifest %q: %w (what it references is unknown: repair it or move it out of the store)", name, err)
		}
		out = append(out, storedPoint{raw, m})
	}
	return out, nil
}

// storeObjects lists the store's data objects, sorted by id.
func (r *Repo) storeObjects(ctx context.Context) ([]objSize, error) {
	var objs []objSize
	err := r.be.List(ctx, "data/", func(name string, size int64) error {
		if id, err := ParseChunkID(name[strings.LastIndex(name, "/")+1:]); err == nil {
			objs = append(objs, objSize{id, size})
		}
		return nil
	})
	slices.SortFunc(objs, func(a, b objSize) int { return cmpID(a.id, b.id) })
	return objs, err
}
