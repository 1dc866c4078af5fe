package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// # Copy between repositories
//
// Copy puts the points of one repository into another that lacks them (a
// second copy off-site, or a format-1 repository migrated to format 2). A
// point is the same point when the VM name and time match; one the
// destination has is skipped, whatever its content.
//
// Each point goes through the destination's own commit order (chunks,
// manifest, catalog), so a killed copy leaves no partial point there, and
// the destination's Writer checkpoints its chunk keys as it goes
// (catalog/checkpoint.go), so a re-run sends only what had not arrived.
// Every chunk read from the source is checked against its id on the way
// (the source's fetch verifies it).
//
// When both repositories name chunks alike (same chunking, same id
// hash) the copy works on the maps: a chunk the destination knows is taken
// into the new map without reading it. Otherwise the source's disks are
// read in full through its DiskReader and ingested, which re-cuts them
// with the destination's chunking: every byte the source holds is read,
// decompressed, hashed and cut again (CopyStats.Recut says which).
//
// Locks travel with the points: a point locked in the source until a date
// still to come is locked in the destination until that date (the
// destination's LockPoints: a hold, and under S3 Object Lock a retention
// on each object), right after the point is stored, so an off-site copy
// is as immutable as its source. A point the destination has already gets
// a later source date too; none is ever shortened. LockFor locks the
// selected points that have no lock in the destination yet, so a re-run
// after a kill between storing a point and locking it still locks it, and
// daily copies do not push every earlier point's date on.

// ErrLocksNotCarried is wrapped when source points are locked and the
// destination cannot lock them (CopyOptions.NoLocks copies them unlocked).
var ErrLocksNotCarried = errors.New("source points are locked and the destination cannot lock them")

// CopyOptions select what Copy copies.
type CopyOptions struct {
	VMs     []string // only these VMs (each must exist in the source); none: all
	Latest  int      // > 0: only the newest Latest points of each VM
	DryRun  bool     // plan only: Copied lists what would be copied
	Workers int      // default: every core
	// Progress, if set, is called from one goroutine as work is done.
	Progress func(CopyProgress)
	// Boundaries, if set, lists a disk's chunk boundaries besides the
	// content's when a point is cut again (DiskSpec.Boundaries): r is the
	// source point's disk, minLen the destination's minimum chunk length.
	Boundaries func(ctx context.Context, r io.ReaderAt, size, minLen int64) ([]int64, error)
	// NoLocks leaves the source points' lock dates behind.
	NoLocks bool
	// LockFor > 0 locks each selected point without a lock in the
	// destination until now+LockFor.
	LockFor time.Duration
}

// CopyProgress counts the work of a Copy so far.
type CopyProgress struct {
	Point       catalog.PointID // the point being copied
	PointsDone  int
	PointsTotal int
	Done, Total int64 // disk bytes covered, of all points to copy
	Sent        int64 // stored bytes the destination added
}

// CopyStats says what a Copy did (or, with DryRun, would do).
type CopyStats struct {
	Copied  []CopiedPoint `json:"copied"`
	Skipped []string      `json:"skipped"` // "vm/time" of points the destination has
	// Refused names the points no repository may take any more (a time
	// an older build accepted: before 1990), with the reason; the others
	// are copied, and Copy then returns an error naming these.
	Refused []string `json:"refused"`
	// Relocked lists points the destination had whose lock was extended
	// (or, with DryRun, would be), with their dates now.
	Relocked      []catalog.PointLock `json:"relocked"`
	PointsCopied  int                 `json:"points_copied"`
	PointsSkipped int                 `json:"points_skipped"`
	BytesRead     int64               `json:"bytes_read"`  // plaintext read from source chunks
	BytesSent     int64               `json:"bytes_sent"`  // stored bytes of the data chunks the destination lacked
	ChunksSent    int64               `json:"chunks_sent"` // data chunks the destination lacked
	DryRun        bool                `json:"dry_run"`
	Duration      time.Duration       `json:"duration_ns"`
}

// CopiedPoint is one point copied (or to copy).
type CopiedPoint struct {
	Point string `json:"point"` // vm/time
	Size  int64  `json:"size"`  // sum of its disk sizes
	Recut bool   `json:"recut"` // chunks re-cut: the repositories name chunks differently
	// LockedUntil is the point's lock date in the destination, if locked.
	LockedUntil *time.Time `json:"locked_until,omitempty"`
	BytesRead   int64      `json:"bytes_read"`
	BytesSent   int64      `json:"bytes_sent"`
	ChunksSent  int64      `json:"chunks_sent"`
}

// Copy copies the selected points of src that dst lacks, oldest first.
// It stops at the first point that fails; the points copied before it
// stay, and a re-run continues.
func Copy(ctx context.Context, src, dst *catalog.Repo, opts CopyOptions) (*CopyStats, error) {
	start := time.Now()
	todo, skipped, refused, err := planCopy(src, dst, opts)
	if err != nil {
		return nil, err
	}
	st := &CopyStats{Copied: []CopiedPoint{}, Relocked: []catalog.PointLock{}, Refused: refused, PointsSkipped: len(skipped), DryRun: opts.DryRun}
	for _, id := range skipped {
		st.Skipped = append(st.Skipped, id.String())
	}
	if st.Skipped == nil {
		st.Skipped = []string{}
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	c := &copier{src: src, dst: dst, opts: opts, st: st}
	if c.locks, err = c.planLocks(ctx, todo, skipped); err != nil {
		return st, err
	}
	if err := c.relock(ctx, skipped); err != nil {
		return st, err
	}
	for _, p := range todo {
		c.prog.Total += pointSize(p)
	}
	c.prog.PointsTotal = len(todo)
	for _, p := range todo {
		cp := CopiedPoint{Point: p.ID().String(), Size: pointSize(p), Recut: !sameChunks(src, dst, p)}
		if !opts.DryRun {
			if err := c.point(ctx, p, &cp); err != nil {
				st.Duration = time.Since(start)
				if ctx.Err() != nil {
					return st, fmt.Errorf("copy interrupted during point %s, which was not created (run copy again to continue): %w", p.ID(), err)
				}
				return st, fmt.Errorf("copy point %s: %w", p.ID(), err)
			}
		}
		if err := c.lockCopied(ctx, p.ID(), &cp); err != nil {
			st.Duration = time.Since(start)
			return st, err
		}
		st.Copied = append(st.Copied, cp)
		st.PointsCopied++
		st.BytesRead += cp.BytesRead
		st.BytesSent += cp.BytesSent
		st.ChunksSent += cp.ChunksSent
		c.prog.PointsDone++
		c.base += cp.Size
		c.report(true)
		catalog.Crashpoint("copy-point")
	}
	st.Duration = time.Since(start)
	if len(refused) > 0 {
		return st, fmt.Errorf("%d points not copied: %s", len(refused), strings.Join(refused, "; "))
	}
	return st, nil
}

// planCopy lists the selected source points the destination lacks, in
// time order, the ones it has, and the ones it may not take.
func planCopy(src, dst *catalog.Repo, opts CopyOptions) (todo []*catalog.Manifest, skipped []catalog.PointID, refused []string, err error) {
	vms := opts.VMs
	if len(vms) == 0 {
		if vms, err = src.VMs(); err != nil {
			return nil, nil, nil, fmt.Errorf("list source VMs: %w", err)
		}
	}
	refused = []string{}
	now := time.Now()
	for _, vm := range slices.Compact(slices.Sorted(slices.Values(vms))) {
		if err := catalog.ValidName("VM", vm); err != nil {
			return nil, nil, nil, err
		}
		ps, err := src.Points(vm)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("list source points of %s: %w", vm, err)
		}
		if len(ps) == 0 {
			return nil, nil, nil, fmt.Errorf("VM %q has no points in the source: %w", vm, catalog.ErrNotFound)
		}
		if opts.Latest > 0 && len(ps) > opts.Latest {
			ps = ps[len(ps)-opts.Latest:]
		}
		for _, p := range ps {
			switch _, err := dst.PointByID(p.ID()); {
			case err == nil:
				skipped = append(skipped, p.ID())
			case errors.Is(err, catalog.ErrNotFound):
				if err := catalog.CheckPointTime(p.Time, now); err != nil {
					refused = append(refused, fmt.Sprintf("%s: %v", p.ID(), err))
					continue
				}
				todo = append(todo, p)
			default:
				return nil, nil, nil, fmt.Errorf("destination point %s: %w", p.ID(), err)
			}
		}
	}
	slices.SortStableFunc(todo, func(a, b *catalog.Manifest) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return a.ID().Compare(b.ID())
	})
	return todo, skipped, refused, nil
}

func pointSize(p *catalog.Manifest) int64 {
	n := int64(0)
	for _, d := range p.Disks {
		n += d.Size
	}
	return n
}

// copier carries one Copy's state.
type copier struct {
	src, dst *catalog.Repo
	opts     CopyOptions
	st       *CopyStats
	prog     CopyProgress
	base     int64 // disk bytes of the points already copied
	diskBase int64 // disk bytes of the point's disks already copied
	shown    time.Time
	locks    map[catalog.PointID]time.Time // lock dates to give, by point
}

// planLocks returns the dates the selected points are to be locked
// until in the destination (see the package comment): the source's date
// if still to come (unless NoLocks), and for points the destination has
// not locked, now+LockFor if later. A destination that could lock but
// cannot (an s3 bucket without Object Lock) is refused up front when any
// point is to be locked, naming them.
func (c *copier) planLocks(ctx context.Context, todo []*catalog.Manifest, skipped []catalog.PointID) (map[catalog.PointID]time.Time, error) {
	ids := slices.Clone(skipped)
	for _, p := range todo {
		ids = append(ids, p.ID())
	}
	if len(ids) == 0 || (c.opts.NoLocks && c.opts.LockFor <= 0) {
		return nil, nil
	}
	now := time.Now()
	srcDates := make([]time.Time, len(ids))
	if !c.opts.NoLocks {
		var err error
		if srcDates, err = c.src.LockDates(ctx, ids); err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
	}
	var dstDates []time.Time
	if c.opts.LockFor > 0 {
		var err error
		if dstDates, err = c.dst.LockDates(ctx, ids); err != nil {
			return nil, fmt.Errorf("destination: %w", err)
		}
	}
	out := map[catalog.PointID]time.Time{}
	var named []string
	for i, id := range ids {
		var until time.Time
		if srcDates[i].After(now) {
			until = srcDates[i]
			named = append(named, fmt.Sprintf("%s until %s", id, until.UTC().Format(time.RFC3339)))
		}
		if c.opts.LockFor > 0 && dstDates[i].IsZero() {
			if t := now.Add(c.opts.LockFor); t.After(until) {
				until = t
			}
		}
		if !until.IsZero() {
			out[id] = until
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	if err := c.dst.CheckLocking(ctx); err != nil {
		if len(named) > 0 && c.opts.LockFor <= 0 {
			return nil, fmt.Errorf("%w: %s; the destination: %w", ErrLocksNotCarried, strings.Join(named, ", "), err)
		}
		return nil, fmt.Errorf("destination: %w", err)
	}
	return out, nil
}

// relock extends the lock of each point the destination has when its
// planned date is later than the destination's.
func (c *copier) relock(ctx context.Context, skipped []catalog.PointID) error {
	var ids []catalog.PointID
	for _, id := range skipped {
		if _, ok := c.locks[id]; ok {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	cur, err := c.dst.LockDates(ctx, ids)
	if err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	var grow []catalog.PointLock
	for i, id := range ids {
		if until := holdSecond(c.locks[id]); until.After(cur[i]) {
			grow = append(grow, catalog.PointLock{ID: id, Until: until})
		}
	}
	if len(grow) == 0 {
		return nil
	}
	if c.opts.DryRun {
		c.st.Relocked = grow
		return nil
	}
	res, err := c.dst.LockPoints(ctx, grow, false)
	if err != nil {
		return fmt.Errorf("extend the locks of points the destination has: %w", err)
	}
	c.st.Relocked = res.Points
	return nil
}

// lockCopied locks a point just stored (or, with DryRun, says until when
// it would be).
func (c *copier) lockCopied(ctx context.Context, id catalog.PointID, cp *CopiedPoint) error {
	until, ok := c.locks[id]
	if !ok {
		return nil
	}
	if !c.opts.DryRun {
		res, err := c.dst.LockPoints(ctx, []catalog.PointLock{{ID: id, Until: until}}, false)
		if err != nil {
			return fmt.Errorf("point %s is stored but not locked (run copy again to lock it): %w", id, err)
		}
		until = res.Points[0].Until
	}
	until = holdSecond(until)
	cp.LockedUntil = &until
	return nil
}

// holdSecond is t as a lock records it: in whole seconds, rounded up.
func holdSecond(t time.Time) time.Time {
	return t.UTC().Add(time.Second - 1).Truncate(time.Second)
}

// report passes progress on, at most every 200 ms unless final.
func (c *copier) report(final bool) {
	if c.opts.Progress == nil || (!final && time.Since(c.shown) < 200*time.Millisecond) {
		return
	}
	c.shown = time.Now()
	c.opts.Progress(c.prog)
}

// point copies one point: on the maps when the repositories name chunks
// alike, else by re-cutting its disks.
func (c *copier) point(ctx context.Context, p *catalog.Manifest, cp *CopiedPoint) error {
	c.prog.Point = p.ID()
	config, err := c.configBlobs(ctx, p)
	if err != nil {
		return err
	}
	var m *catalog.Manifest
	if cp.Recut {
		m, err = c.recut(ctx, p, config, cp)
	} else {
		m, err = c.mapCopy(ctx, p, config, cp)
	}
	if err != nil {
		return err
	}
	for _, d := range m.Disks {
		cp.BytesSent += d.Stats.NewBytes
		cp.ChunksSent += d.Stats.NewChunks
	}
	return nil
}

// configBlobs reads the point's captured configuration files (verified).
func (c *copier) configBlobs(ctx context.Context, p *catalog.Manifest) (map[string][]byte, error) {
	if len(p.Config) == 0 {
		return nil, nil
	}
	out := make(map[string][]byte, len(p.Config))
	for name, f := range p.Config {
		if f.Size < 0 || f.Size > maxConfigBlob {
			return nil, fmt.Errorf("config %q: size %d out of range", name, f.Size)
		}
		b, err := c.src.ReadChunk(ctx, f.ID, int(f.Size))
		if err != nil {
			return nil, fmt.Errorf("config %q: %w", name, err)
		}
		out[name] = b
	}
	return out, nil
}

// maxConfigBlob bounds a captured configuration file (one stored object).
const maxConfigBlob = 64 << 20
