package catalog

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vmarchive/vmarchive/catalog/backend"

	"github.com/vmarchive/vmarchive/catalog/format"
)

// Use is one place a chunk is used.
type Use struct {
	VM     string `json:"vm"`
	Point  string `json:"point"`
	Disk   string `json:"disk"`
	Offset int64  `json:"offset"`        // disk offset; -1 for a map block or config file
	Len    int64  `json:"len,omitempty"` // bytes of the disk at Offset (data)
	What   string `json:"what"`          // "data", "map root", "map leaf", "config <name>"
}

func newUse(d DiskRef, off, n int64, what string) Use {
	return Use{VM: d.VM, Point: d.Name(), Disk: d.Disk, Offset: off, Len: n, What: what}
}

// Ref returns the point and disk (Disk "" for a config file) of u.
func (u Use) Ref() (DiskRef, error) {
	p, err := ParsePointID(u.VM + "/" + u.Point)
	return DiskRef{PointID: p, Disk: u.Disk}, err
}

// Problem is one missing or damaged object and everything that uses it.
type Problem struct {
	ID      ChunkID `json:"id"`
	Missing bool    `json:"missing"`
	Err     string  `json:"error"`
	Uses    []Use   `json:"uses"`
	// Forgotten: the object is gone or damaged for good, so the catalog
	// dropped its chunk key; the next ingest of the same data stores it
	// again, which heals every point that uses it.
	Forgotten bool `json:"forgotten"`
	// Quarantined: the damaged object was moved to this store name
	// (quarantine/<id>), out of what rebuild and gc list; QuarantineErr
	// says why it could not be moved (it stays in data/).
	Quarantined   string `json:"quarantined,omitempty"`
	QuarantineErr string `json:"quarantine_error,omitempty"`
	lost          bool   // gone or damaged for good, not unreadable now
}

// VerifyResult summarises a verify run.
type VerifyResult struct {
	Points   int       `json:"points"`
	Objects  int64     `json:"objects"` // distinct objects checked
	Bytes    int64     `json:"bytes"`   // plaintext bytes checked
	Problems []Problem `json:"problems"`
}

// VerifyOptions selects what Verify checks.
type VerifyOptions struct {
	VM    string // "" for all
	Point string // "" for all points of VM
	// Subset, if set, selects the data chunks to re-read (check
	// --read-data-subset); map blocks are always read.
	Subset   func(ChunkID) bool
	Progress func(done, total int64)
}

// Verify re-reads every object the points in scope use, checks each hash,
// and reports each damaged or missing one with the points and disk offsets
// that use it. The catalog forgets such objects (forgetLost).
func (r *Repo) Verify(ctx context.Context, opts VerifyOptions) (*VerifyResult, error) {
	points, err := r.scope(opts.VM, opts.Point)
	if err != nil {
		return nil, err
	}
	res := &VerifyResult{Points: len(points)}
	bad := map[ChunkID]*Problem{}
	// Pass 1: walk the maps (checking their blocks) and collect data chunks.
	data := map[ChunkID]int{} // id -> max plaintext size
	for _, p := range points {
		for _, c := range p.Config {
			data[c.ID] = max(data[c.ID], int(c.Size))
		}
		for i := range p.Disks {
			d := &p.Disks[i]
			r.walkMap(ctx, p, d, func(kind string, id ChunkID, off, n int64, err error) {
				if err != nil {
					addProblem(bad, id, err, newUse(p.DiskRef(d.Name), -1, 0, kind))
					return
				}
				if kind == "data" {
					data[id] = max(data[id], int(n))
				}
			})
		}
	}
	// Pass 2: check every distinct data chunk on all cores.
	ids := make([]ChunkID, 0, len(data))
	for id := range data {
		if opts.Subset == nil || opts.Subset(id) {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return string(ids[i][:]) < string(ids[j][:]) })
	var (
		mu         sync.Mutex
		next, done atomic.Int64
		wg         sync.WaitGroup
	)
	for w := 0; w < workers(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(ids)) || ctx.Err() != nil {
					return
				}
				id := ids[i]
				b, err := r.fetch(ctx, id, data[id])
				mu.Lock()
				if err != nil {
					addProblem(bad, id, err)
				} else {
					res.Bytes += int64(len(b))
				}
				mu.Unlock()
				if n := done.Add(1); opts.Progress != nil {
					opts.Progress(n, int64(len(ids)))
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.Objects = int64(len(ids))
	// Pass 3: name the uses of damaged data chunks.
	res.Problems = r.nameUses(ctx, points, bad, false)
	if err := r.forgetLost(ctx, res.Problems); err != nil {
		return nil, err
	}
	return res, nil
}

// forgetLost moves the damaged objects to quarantine, then drops the chunk
// keys of the objects that are gone or damaged for good, in one synced
// batch, so that ingests no longer reuse them but store them again (as
// Proxmox Backup Server does). Quarantine comes first: while the key is
// there no ingest stores the object again, so only damaged bytes move,
// and a crash in between leaves a key without object, which check and gc
// drop.
func (r *Repo) forgetLost(ctx context.Context, problems []Problem) error {
	if !r.readOnly {
		r.quarantine(ctx, problems)
	}
	b := r.db.NewBatch()
	defer b.Close()
	for _, pr := range problems {
		if pr.lost {
			b.Delete(format.ChunkKey(pr.ID), nil)
		}
	}
	if b.Empty() {
		return nil
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("forget the chunk keys of lost objects: %w", err)
	}
	for i := range problems {
		problems[i].Forgotten = problems[i].lost
	}
	return nil
}

// nameUses adds to each problem the places the points use its object
// (data chunks and config blobs; map blocks too when blocks is set, for
// problems found without walking the maps) and returns them sorted by id.
func (r *Repo) nameUses(ctx context.Context, points []*Manifest, bad map[ChunkID]*Problem, blocks bool) []Problem {
	if len(bad) > 0 {
		for _, p := range points {
			for name, c := range p.Config {
				if pr := bad[c.ID]; pr != nil {
					pr.Uses = append(pr.Uses, newUse(p.DiskRef(""), -1, 0, "config "+name))
				}
			}
			for i := range p.Disks {
				d := &p.Disks[i]
				// A block that cannot be read is still used by this disk.
				r.walkMap(ctx, p, d, func(kind string, id ChunkID, off, n int64, err error) {
					if pr := bad[id]; pr != nil && (kind == "data" || blocks) {
						pr.Uses = append(pr.Uses, newUse(p.DiskRef(d.Name), off, n, kind))
					}
				})
			}
		}
	}
	out := make([]Problem, 0, len(bad))
	for _, pr := range bad {
		out = append(out, *pr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID.String() < out[j].ID.String() })
	return out
}

func addProblem(bad map[ChunkID]*Problem, id ChunkID, err error, uses ...Use) {
	pr := bad[id]
	if pr == nil {
		pr = &Problem{ID: id, Missing: errors.Is(err, backend.ErrNotFound), Err: err.Error(), lost: blockLost(err)}
		bad[id] = pr
	}
	pr.Uses = append(pr.Uses, uses...)
}

// walkMap calls fn for the map blocks and every non-zero data extent of a
// disk (off and n its place; -1 and 0 for a block); a block that cannot be
// read is reported through err and its subtree skipped.
func (r *Repo) walkMap(ctx context.Context, p *Manifest, d *DiskRecord, fn func(kind string, id ChunkID, off, n int64, err error)) {
	m, err := r.OpenDiskMap(ctx, p, d)
	if err != nil {
		fn("map root", d.Map, -1, 0, err)
		return
	}
	m.walk(ctx, walkOptions{}, func(kind string, id ChunkID, err error) (bool, error) {
		fn(kind, id, -1, 0, err)
		return err == nil, nil
	}, func(e Extent) error {
		fn("data", e.ID, e.Off, e.Len, nil)
		return nil
	})
}

// scope returns the points selected by vm and point ("" = all).
func (r *Repo) scope(vm, point string) ([]*Manifest, error) {
	if point != "" {
		if vm == "" {
			return nil, fmt.Errorf("a point needs its VM")
		}
		p, err := r.Point(vm, point)
		if err != nil {
			return nil, err
		}
		return []*Manifest{p}, nil
	}
	pts, err := r.Points(vm)
	if err == nil && vm != "" && len(pts) == 0 {
		err = fmt.Errorf("VM %s has no points: %w", vm, ErrNotFound)
	}
	return pts, err
}
