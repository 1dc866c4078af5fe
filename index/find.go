package index

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/vmarchive/vmarchive/catalog"
)

// Hit is an entry matching a pattern in one point.
type Hit struct {
	Point  *catalog.Manifest
	Disk   string
	Volume string
	Entry
}

// GuestPath is the entry's path as shown in the mount: "disk0/p2/etc/hosts".
func (h *Hit) GuestPath() string {
	disk := catalog.MountDiskName(h.Disk)
	if h.Path == "/" {
		return disk + "/" + h.Volume
	}
	return disk + "/" + h.Volume + h.Path
}

// Problem is a volume whose files could not be indexed.
type Problem struct {
	Point  *catalog.Manifest
	Disk   string
	Volume string
	Err    string
}

// FindResult is what Find found.
type FindResult struct {
	Hits     []Hit     // by guest path, then point time
	Problems []Problem // by point, then disk and volume
}

// Find searches the indexes of points for entries matching p, loading
// indexes (and building the missing ones) with one worker per CPU. Volume
// roots are not listed. warn receives non-fatal problems (may be nil).
//
// A stored index is checked as fully as Load checks it, its path columns
// in the same pass as the search; one that fails is reported to warn and
// rebuilt, and nothing found in it is kept.
func Find(ctx context.Context, repo *catalog.Repo, points []*catalog.Manifest, p *Pattern, warn func(error)) (*FindResult, error) {
	found := make([]*pointHits, len(points))
	probs := make([][]Problem, len(points))
	bufs := make([]searchBuf, workers(len(points)))
	err := forEach(ctx, len(points), func(w, i int) error {
		var err error
		found[i], probs[i], err = findIn(ctx, repo, points[i], p, warn, &bufs[w])
		return err
	})
	if err != nil {
		return nil, err
	}
	fr := &FindResult{Hits: mergeHits(found)}
	for _, pr := range probs {
		fr.Problems = append(fr.Problems, pr...)
	}
	return fr, nil
}

// searchBuf is the memory one worker reuses from point to point.
type searchBuf struct {
	dec   decodeBuf
	found []foundAt
	arena []byte
}

// findIn searches the index of point m, decoding a stored one in buf.
func findIn(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, p *Pattern, warn func(error), buf *searchBuf) (*pointHits, []Problem, error) {
	b, ok, err := repo.Derived(m.ID(), DerivedName)
	if err != nil {
		return nil, nil, err
	}
	if ok {
		ix, err := decode(b, &buf.dec)
		var ph *pointHits
		if err == nil {
			ph, err = search(ix, m, p, true, buf)
		}
		if err == nil {
			return ph, problems(ix, m), nil
		}
		warnRebuild(warn, m, len(b), fmt.Errorf("file index: %w", err))
	}
	ix, err := buildAndStore(ctx, repo, m)
	if err != nil {
		return nil, nil, err
	}
	ph, err := search(ix, m, p, false, buf)
	if err != nil {
		return nil, nil, err
	}
	return ph, problems(ix, m), nil
}

// pointHits is what matched in one point, kept compact until the points
// are merged: the index's columns may be reused by then, so the matches'
// records are copied.
type pointHits struct {
	m       *catalog.Manifest
	volumes []volumeName
	hits    []pointHit // by volume in index order, then path
	recs    []byte     // the records of hits, in order
}

type volumeName struct{ disk, name string }

type pointHit struct {
	path string
	vol  int32 // in volumes
}

func (ph *pointHits) record(k int) []byte { return ph.recs[k*recordLen : (k+1)*recordLen] }

// foundAt is a match while a point is searched: its volume, its entry
// number and where its path is in the arena.
type foundAt struct {
	vol, i   int32
	off, end int
}

// search returns the entries of ix matching p. check says the path
// columns are yet to be checked: each is checked as it is searched, and a
// failure is returned.
func search(ix *Index, m *catalog.Manifest, p *Pattern, check bool, buf *searchBuf) (*pointHits, error) {
	found, arena := buf.found[:0], buf.arena[:0]
	for vi, v := range ix.Volumes {
		vm, skip := newVolumeMatcher(p, v)
		var fn func(i int, path []byte)
		if !skip {
			fn = func(i int, path []byte) {
				if len(path) > 1 && vm.match(path) { // not the root
					found = append(found, foundAt{vol: int32(vi), i: int32(i), off: len(arena), end: len(arena) + len(path)})
					arena = append(arena, path...)
				}
			}
		}
		switch {
		case check:
			if err := scanColumn(v.col, v.n, fn); err != nil {
				return nil, volumeError(vi, v, err)
			}
		case fn != nil:
			v.Paths(func(i int, path []byte) bool {
				fn(i, path)
				return true
			})
		}
	}
	buf.found, buf.arena = found, arena
	ph := &pointHits{m: m, hits: make([]pointHit, len(found)), recs: make([]byte, len(found)*recordLen)}
	for _, v := range ix.Volumes {
		ph.volumes = append(ph.volumes, volumeName{v.Disk, v.Name})
	}
	// One string for all the paths: no allocation per match.
	paths := string(arena)
	for k, f := range found {
		ph.hits[k] = pointHit{path: paths[f.off:f.end], vol: f.vol}
		v := ix.Volumes[f.vol]
		copy(ph.record(k), v.recs[int(f.i)*recordLen:])
	}
	return ph, nil
}

// mergeHits gathers the points' hits in one list sorted by guest path,
// then point time; hits equal in both keep the order of points. Each
// distinct guest path is ranked once, then the hits are placed by rank
// (a counting sort): no string comparison per hit.
func mergeHits(points []*pointHits) []Hit {
	type guestPath struct{ disk, volume, path string }
	ids := map[guestPath]int{}
	var paths []guestPath
	hitIDs := make([][]int, len(points))
	for i, ph := range points {
		hitIDs[i] = make([]int, len(ph.hits))
		for k, h := range ph.hits {
			v := &ph.volumes[h.vol]
			gp := guestPath{v.disk, v.name, h.path}
			id, ok := ids[gp]
			if !ok {
				id = len(paths)
				ids[gp] = id
				paths = append(paths, gp)
			}
			hitIDs[i][k] = id
		}
	}
	byPath := make([]int, len(paths))
	for i := range byPath {
		byPath[i] = i
	}
	slices.SortFunc(byPath, func(a, b int) int {
		pa, pb := &paths[a], &paths[b]
		if c := strings.Compare(pa.disk, pb.disk); c != 0 {
			return c
		}
		if c := strings.Compare(pa.volume, pb.volume); c != 0 {
			return c
		}
		return strings.Compare(pa.path, pb.path)
	})
	// next[id] is where the next hit of path id goes: the hits of the
	// paths ranked before it, counted.
	next := make([]int, len(paths))
	for i := range points {
		for _, id := range hitIDs[i] {
			next[id]++
		}
	}
	total := 0
	for _, id := range byPath {
		total, next[id] = total+next[id], total
	}
	byTime := make([]int, len(points))
	for i := range byTime {
		byTime[i] = i
	}
	slices.SortStableFunc(byTime, func(a, b int) int { return points[a].m.Time.Compare(points[b].m.Time) })
	out := make([]Hit, total)
	for _, i := range byTime {
		ph := points[i]
		for k, id := range hitIDs[i] {
			h, gp := &out[next[id]], &paths[id]
			next[id]++
			h.Point, h.Disk, h.Volume, h.Path = ph.m, gp.disk, gp.volume, gp.path
			decodeRecord(ph.record(k), &h.Entry)
		}
	}
	return out
}

// volumeMatcher matches the paths of one volume against a pattern.
type volumeMatcher struct {
	p *Pattern
	// lit is a prefix of every path p matches, nil when none is known.
	lit []byte
	// whole: p matches the guest path, buf[:plen] is the volume's prefix.
	whole bool
	buf   []byte
	plen  int
}

// newVolumeMatcher returns a matcher of the paths of v, and true when no
// path of v can match.
func newVolumeMatcher(p *Pattern, v *Volume) (*volumeMatcher, bool) {
	if v.Name == "" {
		return nil, true // the disk could not be read: nothing in it is listed
	}
	q, skip := p.forVolume(v.Prefix())
	if skip {
		return nil, true
	}
	if q == nil {
		buf := []byte(v.Prefix())
		return &volumeMatcher{p: p, whole: true, buf: buf, plen: len(buf)}, false
	}
	return &volumeMatcher{p: q, lit: []byte(q.literalPrefix())}, false
}

func (vm *volumeMatcher) match(path []byte) bool {
	if vm.whole {
		vm.buf = append(vm.buf[:vm.plen], path...)
		return vm.p.Match(vm.buf)
	}
	if len(vm.lit) > 0 && !bytes.HasPrefix(path, vm.lit) {
		return false
	}
	return vm.p.Match(path)
}

// problems lists the volumes of ix that hold a filesystem that could not
// be read.
func problems(ix *Index, m *catalog.Manifest) []Problem {
	var out []Problem
	for _, v := range ix.Volumes {
		if v.Err != "" && !v.NoFS {
			out = append(out, Problem{Point: m, Disk: v.Disk, Volume: v.Name, Err: v.Err})
		}
	}
	return out
}

// workers is how many workers forEach runs for n items.
func workers(n int) int { return max(1, min(n, runtime.GOMAXPROCS(0))) }

// forEach runs fn(w, 0..n-1) on workers(n) workers, w being the worker's
// number, and returns the first error.
func forEach(ctx context.Context, n int, fn func(w, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		next     int
		firstErr error
		wg       sync.WaitGroup
	)
	for w := 0; w < workers(n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := firstErr != nil || ctx.Err() != nil
				mu.Unlock()
				if i >= n || stop {
					return
				}
				if err := fn(w, i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}
