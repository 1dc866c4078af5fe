package guestfs

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"
)

// Boundaries hands out FileBoundaries a disk region at a time, in disk
// order, while the volumes are still being walked: a full ingest cuts
// the start of the disk while the later filesystems are read. Volumes
// are walked in the order their data starts on the disk, a few at once.
type Boundaries struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	splits []int64 // region edges: the start and end of every walked piece
	vols   []*walkedVol
	byVol  map[*Volume]*walkedVol // NewBoundaries' volumes

	mu    sync.Mutex
	nerr  int   // problems met by the walks; guarded by mu
	first error // the first of them; guarded by mu
}

type walkedVol struct {
	pieces []Piece
	done   chan struct{}
	cuts   []int64 // sorted; set before done is closed
	once   sync.Once
}

// set gives the volume its boundaries c, unless it has some already.
func (w *walkedVol) set(c []int64) {
	w.once.Do(func() {
		slices.Sort(c)
		w.cuts = slices.Compact(c)
		close(w.done)
	})
}

// Walked reports whether a walk of v gives FileBoundaries for it: its
// filesystem lists file extents and its layout on the disk is known.
func (v *Volume) Walked() bool {
	_, ok := v.FS.(Extenter)
	return ok && len(v.Layout) > 0
}

// NewBoundaries returns Boundaries of the volumes of d that another walk
// of their files gives, a volume at a time (Fill), beside what it is
// walking for (the file index): the guest is then walked once. Stop gives
// the volumes not filled no boundaries.
func NewBoundaries(d *Disk) *Boundaries {
	b := &Boundaries{cancel: func() {}, byVol: map[*Volume]*walkedVol{}}
	for _, v := range d.Volumes {
		if !v.Walked() {
			continue
		}
		w := &walkedVol{pieces: v.Layout, done: make(chan struct{})}
		b.vols = append(b.vols, w)
		b.byVol[v] = w
		for _, p := range v.Layout {
			b.splits = append(b.splits, p.DiskOff, p.DiskOff+p.Len)
		}
	}
	slices.Sort(b.splits)
	b.splits = slices.Compact(b.splits)
	return b
}

// Fill gives volume v of the disk NewBoundaries was given its boundaries:
// FileCuts of each of its regular files, at most maxCuts of them in all,
// in any order; the problems met are counted as Problem.
func (b *Boundaries) Fill(v *Volume, cuts []int64) {
	if w := b.byVol[v]; w != nil {
		w.set(cuts)
	}
}

// Problem counts an error a walk went past (see Problems).
func (b *Boundaries) Problem(err error) { b.problem(err) }

// StartFileBoundaries starts walking the volumes of d for the boundaries
// FileBoundaries would give; Next hands them out. Stop ends the walks.
func StartFileBoundaries(ctx context.Context, d *Disk, minSize, align int64, maxCuts int) *Boundaries {
	ctx, cancel := context.WithCancel(ctx)
	b := &Boundaries{cancel: cancel}
	type job struct {
		v   *Volume
		x   Extenter
		w   *walkedVol
		off int64
	}
	var jobs []job
	for _, v := range d.Volumes {
		x, ok := v.FS.(Extenter)
		if !ok || len(v.Layout) == 0 {
			continue
		}
		w := &walkedVol{pieces: v.Layout, done: make(chan struct{})}
		b.vols = append(b.vols, w)
		off := v.Layout[0].DiskOff
		for _, p := range v.Layout {
			off = min(off, p.DiskOff)
			b.splits = append(b.splits, p.DiskOff, p.DiskOff+p.Len)
		}
		jobs = append(jobs, job{v, x, w, off})
	}
	slices.Sort(b.splits)
	b.splits = slices.Compact(b.splits)
	slices.SortFunc(jobs, func(a, b job) int { return cmp.Compare(a.off, b.off) })
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for i, j := range jobs {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				for _, j := range jobs[i:] {
					j.w.set(nil) // not walked: no cuts
				}
				return
			}
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				defer func() { <-sem }()
				var c []int64
				if ctx.Err() == nil {
					c = j.v.fileBoundaries(ctx, j.x, minSize, align, maxCuts, func(p string, err error) {
						if ctx.Err() == nil { // not the Stop that ends an ingest
							b.problem(fmt.Errorf("%s: %q: %w", j.v.Name, p, err))
						}
					})
				}
				j.w.set(c)
			}()
		}
	}()
	return b
}

// DiskBoundaries is StartFileBoundaries of the disk r of size bytes; a disk
// without a partition table or filesystem it knows has none.
func DiskBoundaries(ctx context.Context, r io.ReaderAt, size, minSize, align int64, maxCuts int) *Boundaries {
	d, err := OpenDisk(r, size, nil)
	if err != nil {
		b := StartFileBoundaries(ctx, &Disk{}, minSize, align, maxCuts)
		b.problem(err)
		return b
	}
	return StartFileBoundaries(ctx, d, minSize, align, maxCuts)
}

// problem notes an error a walk went past.
func (b *Boundaries) problem(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.nerr++; b.first == nil {
		b.first = err
	}
}

// Problems returns how many errors the walks went past (a partition table
// or directory that could not be read, a file whose extents could not be
// listed: those get no boundaries) and the first of them. Call it after
// Stop, or after Next has reached math.MaxInt64.
func (b *Boundaries) Problems() (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.nerr, b.first
}

// Next returns the sorted boundaries in [from, to), waiting for the walks
// of the volumes with data there; to > from, and to is math.MaxInt64 past
// the last volume.
func (b *Boundaries) Next(ctx context.Context, from int64) ([]int64, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("file boundaries: %w", err)
	}
	k := sort.Search(len(b.splits), func(k int) bool { return b.splits[k] > from })
	to := int64(math.MaxInt64)
	if k < len(b.splits) {
		to = b.splits[k]
	}
	var cuts []int64
	for _, w := range b.vols {
		if !w.overlaps(from, to) {
			continue
		}
		select {
		case <-w.done:
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("file boundaries: %w", ctx.Err())
		}
		lo, _ := slices.BinarySearch(w.cuts, from)
		hi, _ := slices.BinarySearch(w.cuts, to)
		cuts = append(cuts, w.cuts[lo:hi]...)
	}
	slices.Sort(cuts)
	return slices.Compact(cuts), to, nil
}

func (w *walkedVol) overlaps(from, to int64) bool {
	for _, p := range w.pieces {
		if p.DiskOff < to && p.DiskOff+p.Len > from {
			return true
		}
	}
	return false
}

// Stop ends the walks and waits for them; volumes not walked get no
// boundaries.
func (b *Boundaries) Stop() {
	b.cancel()
	b.wg.Wait()
	for _, w := range b.vols {
		w.set(nil)
	}
}
