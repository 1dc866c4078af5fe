package catalog

import (
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vmarchive/vmarchive/catalog/format"
)

// Stats is what an operator plans capacity with. Byte counts:
//   - Logical: disk sizes as the VMs see them, summed over points;
//   - Data: plaintext of the non-zero chunks the points reference, summed
//     over points (what a full copy of every point without zeros would take);
//   - Unique: plaintext of the distinct chunks (after dedup);
//   - Stored: stored (compressed) bytes of the distinct objects the points
//     reference, map blocks and config blobs included;
//   - Frees: stored bytes of the objects nothing else references, which
//     forgetting this one point (or VM) and then gc would return.
type Stats struct {
	Points            int   `json:"points"`
	Logical           int64 `json:"logical_bytes"`
	Data              int64 `json:"data_bytes"`
	Unique            int64 `json:"unique_bytes"`
	Stored            int64 `json:"stored_bytes"`
	Objects           int64 `json:"objects"`
	Missing           int64 `json:"missing_objects"`      // referenced but not in the catalog
	Unreferenced      int64 `json:"unreferenced_objects"` // in the catalog, no point uses them: gc removes them
	UnreferencedBytes int64 `json:"unreferenced_bytes"`
	// DedupRatio is Data/Unique, CompressionRatio Unique/Stored.
	DedupRatio       float64      `json:"dedup_ratio"`
	CompressionRatio float64      `json:"compression_ratio"`
	VMs              []UsageStats `json:"vms"`
	PointList        []UsageStats `json:"point_list"`
}

// UsageStats is the share of one VM or one point.
type UsageStats struct {
	VM      string `json:"vm"`
	Point   string `json:"point,omitempty"`
	Points  int    `json:"points"`
	Logical int64  `json:"logical_bytes"`
	Data    int64  `json:"data_bytes"`
	Stored  int64  `json:"stored_bytes"` // stored bytes of the distinct objects it references
	Frees   int64  `json:"frees_bytes"`  // what forgetting it alone (then gc) returns
}

type objUse struct {
	plain       int64
	stored      int64
	point, vm   int32 // first user
	points, vms int32 // how many use it
}

// Stats walks every point's maps once; memory grows with the number of
// distinct objects (about 100 bytes each).
func (r *Repo) Stats(ctx context.Context) (*Stats, error) {
	points, err := r.Points("")
	if err != nil {
		return nil, err
	}
	st := &Stats{Points: len(points)}
	objs := map[ChunkID]*objUse{}
	vmIndex := map[string]int{}
	for pi, p := range points {
		vi, ok := vmIndex[p.VM]
		if !ok {
			vi = len(st.VMs)
			vmIndex[p.VM] = vi
			st.VMs = append(st.VMs, UsageStats{VM: p.VM})
		}
		ps := UsageStats{VM: p.VM, Point: p.Name(), Points: 1}
		seen := map[ChunkID]bool{}
		use := func(id ChunkID, plain int64) {
			if id.IsZero() || seen[id] {
				return
			}
			seen[id] = true
			o := objs[id]
			if o == nil {
				o = &objUse{plain: plain, point: int32(pi), vm: int32(vi), vms: 1}
				objs[id] = o
			} else if o.vm != int32(vi) && o.vms == 1 {
				o.vms = 2 // more than one VM: never freed by forgetting one
			}
			o.points++
		}
		for _, c := range p.Config {
			use(c.ID, c.Size)
		}
		for i := range p.Disks {
			d := &p.Disks[i]
			ps.Logical += d.Size
			var werr error
			r.walkMap(ctx, p, d, func(kind string, id ChunkID, off, n int64, err error) {
				if err != nil {
					werr = err
					return
				}
				var plain int64
				if kind == "data" {
					plain = n
					ps.Data += plain
				}
				use(id, plain)
			})
			if werr != nil {
				return nil, fmt.Errorf("stats: point %s disk %s: %w", p.ID(), d.Name, werr)
			}
		}
		st.PointList = append(st.PointList, ps)
		v := &st.VMs[vi]
		v.Points++
		v.Logical += ps.Logical
		v.Data += ps.Data
		st.Logical += ps.Logical
		st.Data += ps.Data
	}
	if err := r.chunkSizes(func(id ChunkID, stored int64) {
		o := objs[id]
		if o == nil {
			st.Unreferenced++
			st.UnreferencedBytes += stored
			return
		}
		o.stored = stored
	}); err != nil {
		return nil, err
	}
	for _, o := range objs {
		st.Objects++
		st.Unique += o.plain
		st.Stored += o.stored
		if o.stored == 0 {
			st.Missing++
		}
		if o.points == 1 {
			st.PointList[o.point].Frees += o.stored
		}
		if o.vms == 1 {
			st.VMs[o.vm].Frees += o.stored
		}
	}
	r.perOwnerStored(ctx, points, objs, st, vmIndex)
	if st.Unique > 0 {
		st.DedupRatio = float64(st.Data) / float64(st.Unique)
	}
	if st.Stored > 0 {
		st.CompressionRatio = float64(st.Unique) / float64(st.Stored)
	}
	return st, nil
}

// perOwnerStored fills UsageStats.Stored of points and VMs: the stored
// bytes of the distinct objects each one references.
func (r *Repo) perOwnerStored(ctx context.Context, points []*Manifest, objs map[ChunkID]*objUse, st *Stats, vmIndex map[string]int) {
	vmSeen := make([]map[ChunkID]bool, len(st.VMs))
	for pi, p := range points {
		vi := vmIndex[p.VM]
		if vmSeen[vi] == nil {
			vmSeen[vi] = map[ChunkID]bool{}
		}
		seen := map[ChunkID]bool{}
		add := func(id ChunkID) {
			o := objs[id]
			if o == nil || seen[id] {
				return
			}
			seen[id] = true
			st.PointList[pi].Stored += o.stored
			if !vmSeen[vi][id] {
				vmSeen[vi][id] = true
				st.VMs[vi].Stored += o.stored
			}
		}
		for _, c := range p.Config {
			add(c.ID)
		}
		for i := range p.Disks {
			r.walkMap(ctx, p, &p.Disks[i], func(kind string, id ChunkID, off, _ int64, err error) { add(id) })
		}
	}
}

// chunkSizes calls fn for every chunk key of the catalog.
func (r *Repo) chunkSizes(fn func(id ChunkID, stored int64)) error {
	prefix := format.ChunkKey(ZeroID)[:1]
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: []byte{prefix[0] + 1}})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != 1+len(ZeroID) {
			it.Close()
			return fmt.Errorf("catalog chunk key %x: %w", k, ErrCorrupt)
		}
		size, err := format.DecodeChunkValue(it.Value())
		if err != nil {
			it.Close()
			return err
		}
		fn(ChunkID(k[1:]), size)
	}
	return it.Close()
}
