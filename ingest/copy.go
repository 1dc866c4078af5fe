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
	Refused       []string      `json:"refused"`
	PointsCopied  int           `json:"points_copied"`
	PointsSkipped int           `json:"points_skipped"`
	BytesRead     int64         `json:"bytes_read"`  // plaintext read from source chunks
	BytesSent     int64         `json:"bytes_sent"`  // stored bytes of the data chunks the destination lacked
	ChunksSent    int64         `json:"chunks_sent"` // data chunks the destination lacked
	DryRun        bool          `json:"dry_run"`
	Duration      time.Duration `json:"duration_ns"`
}

// CopiedPoint is one point copied (or to copy).
type CopiedPoint struct {
	Point      string `json:"point"` // vm/time
	Size       int64  `json:"size"`  // sum of its disk sizes
	Recut      bool   `json:"recut"` // chunks re-cut: the repositories name chunks differently
	BytesRead  int64  `json:"bytes_read"`
	BytesSent  int64  `json:"bytes_sent"`
	ChunksSent int64  `json:"chunks_sent"`
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
	st := &CopyStats{Copied: []CopiedPoint{}, Skipped: skipped, Refused: refused, PointsSkipped: len(skipped), DryRun: opts.DryRun}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	c := &copier{src: src, dst: dst, opts: opts, st: st}
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
func planCopy(src, dst *catalog.Repo, opts CopyOptions) (todo []*catalog.Manifest, skipped, refused []string, err error) {
	vms := opts.VMs
	if len(vms) == 0 {
		if vms, err = src.VMs(); err != nil {
			return nil, nil, nil, fmt.Errorf("list source VMs: %w", err)
		}
	}
	skipped, refused = []string{}, []string{}
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
				skipped = append(skipped, p.ID().String())
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
