package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/vmarchive/vmarchive/catalog/backend"
)

// CheckOptions select how deep Check looks.
type CheckOptions struct {
	// ReadData re-reads and hashes the data chunks too (Verify); with
	// SubsetOf > 0 only the chunks whose id falls in part SubsetPart
	// (1-based) of SubsetOf, so that SubsetOf runs cover everything.
	ReadData             bool
	SubsetPart, SubsetOf int
	Progress             func(done, total int64)
}

// CheckResult is what Check found. Problems name missing or inconsistent
// objects with the points that use them; Manifests lists disagreements
// between the catalog's points and the manifests in the store.
type CheckResult struct {
	Points    int           `json:"points"`
	Objects   int64         `json:"objects"` // distinct referenced objects checked
	Problems  []Problem     `json:"problems"`
	Manifests []string      `json:"manifests"`
	Data      *VerifyResult `json:"data,omitempty"`
}

// OK reports whether nothing is wrong.
func (c *CheckResult) OK() bool {
	return len(c.Problems) == 0 && len(c.Manifests) == 0 && (c.Data == nil || len(c.Data.Problems) == 0)
}

type objSize struct {
	id   ChunkID
	size int64
}

func findObj(s []objSize, id ChunkID) (int64, bool) {
	i, ok := slices.BinarySearchFunc(s, id, func(o objSize, id ChunkID) int { return cmpID(o.id, id) })
	if !ok {
		return 0, false
	}
	return s[i].size, true
}

// Check verifies the repository's structure: every object a point
// references is in the store and in the catalog with the same size, every
// catalog chunk key has its object, every catalog point has its manifest
// in the store with the same bytes and the other way round. With ReadData
// it then re-reads the data (Verify).
func (r *Repo) Check(ctx context.Context, opts CheckOptions) (*CheckResult, error) {
	if opts.SubsetOf < 0 || opts.SubsetOf > 0 && (opts.SubsetPart < 1 || opts.SubsetPart > opts.SubsetOf) {
		return nil, fmt.Errorf("check: data subset %d/%d: want n/m with 1 <= n <= m", opts.SubsetPart, opts.SubsetOf)
	}
	points, err := r.Points("")
	if err != nil {
		return nil, err
	}
	res := &CheckResult{Points: len(points), Manifests: []string{}}
	if err := r.checkManifests(ctx, points, res); err != nil {
		return nil, err
	}
	var store, cat []objSize
	err = r.be.List(ctx, "data/", func(name string, size int64) error {
		if id, err := ParseChunkID(name[strings.LastIndex(name, "/")+1:]); err == nil {
			store = append(store, objSize{id, size})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(store, func(a, b objSize) int { return cmpID(a.id, b.id) })
	if err := r.chunkSizes(func(id ChunkID, size int64) { cat = append(cat, objSize{id, size}) }); err != nil {
		return nil, err
	}
	bad := map[ChunkID]*Problem{}
	checked := map[ChunkID]bool{}
	look := func(id ChunkID) {
		if id.IsZero() || checked[id] {
			return
		}
		checked[id] = true
		ssize, inStore := findObj(store, id)
		csize, inCat := findObj(cat, id)
		switch {
		case !inStore:
			bad[id] = &Problem{ID: id, Missing: true, Err: fmt.Sprintf("object %s is missing from the store", id.ObjectName()), lost: true}
		case !inCat:
			bad[id] = &Problem{ID: id, Err: "object is not in the catalog: it was found damaged and forgotten (the next ingest of its data stores it again), or the catalog is older than the store (vmarchive catalog rebuild)"}
		case ssize != csize:
			bad[id] = &Problem{ID: id, Err: fmt.Sprintf("catalog says %d stored bytes, the store holds %d", csize, ssize)}
		}
	}
	for _, p := range points {
		for _, c := range p.Config {
			look(c.ID)
		}
		for i := range p.Disks {
			r.walkMap(ctx, p, &p.Disks[i], func(kind string, id ChunkID, off, _ int64, err error) {
				look(id)
				if err != nil && bad[id] == nil {
					bad[id] = &Problem{ID: id, Missing: errors.Is(err, backend.ErrNotFound), Err: err.Error(), lost: blockLost(err)}
				}
			})
		}
	}
	res.Objects = int64(len(checked))
	// Catalog keys without objects make dedup reference missing data.
	for _, c := range cat {
		if _, ok := findObj(store, c.id); !ok && !checked[c.id] {
			bad[c.id] = &Problem{ID: c.id, Missing: true, Err: "the catalog lists this chunk but the store lacks it; no point uses it", lost: true}
		}
	}
	res.Problems = r.nameUses(ctx, points, bad, true)
	if err := r.forgetLost(ctx, res.Problems); err != nil {
		return nil, err
	}
	if opts.ReadData {
		vo := VerifyOptions{Progress: opts.Progress}
		if opts.SubsetOf > 0 {
			vo.Subset = func(id ChunkID) bool { return inSubset(id, opts.SubsetPart, opts.SubsetOf) }
		}
		if res.Data, err = r.Verify(ctx, vo); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// inSubset puts id in one of m parts by its first 8 bytes (ids are
// uniform hashes, so parts are even).
func inSubset(id ChunkID, n, m int) bool {
	var v uint64
	for _, b := range id[:8] {
		v = v<<8 | uint64(b)
	}
	return int(v%uint64(m)) == n-1
}

// checkManifests compares the catalog's points with the store's manifests.
func (r *Repo) checkManifests(ctx context.Context, points []*Manifest, res *CheckResult) error {
	inStore := map[string]bool{}
	err := r.be.List(ctx, "points/", func(name string, size int64) error {
		inStore[name] = true
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range points {
		name := r.manifestName(p.ID())
		if !inStore[name] {
			res.Manifests = append(res.Manifests, fmt.Sprintf("%s: in the catalog but its manifest %s is not in the store (an interrupted forget: forget it again)", p.ID(), name))
			continue
		}
		delete(inStore, name)
		stored, err := r.be.Get(ctx, name)
		if err == nil {
			stored, err = r.unseal(name, stored, true)
		}
		if err != nil {
			res.Manifests = append(res.Manifests, fmt.Sprintf("%s: read manifest %s: %v", p.ID(), name, err))
			continue
		}
		want, err := r.catalogManifest(p)
		if err != nil {
			return err
		}
		if !bytes.Equal(stored, want) {
			res.Manifests = append(res.Manifests, fmt.Sprintf("%s: manifest %s differs from the catalog's copy (vmarchive gc puts the store's copy in the catalog)", p.ID(), name))
		}
	}
	for name := range inStore {
		res.Manifests = append(res.Manifests, fmt.Sprintf("%s: manifest in the store but not in the catalog (vmarchive gc adds it)", name))
	}
	slices.Sort(res.Manifests)
	return nil
}

// catalogManifest returns the manifest bytes the catalog holds for p.
func (r *Repo) catalogManifest(p *Manifest) ([]byte, error) {
	v, closer, err := r.db.Get(p.ID().Key())
	if err != nil {
		return nil, fmt.Errorf("read point %s: %w", p.ID(), err)
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}
