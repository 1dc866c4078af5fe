package index

import (
	"cmp"
	"context"
	"runtime"
	"slices"
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
	if h.Path == "/" {
		return h.Disk + "/" + h.Volume
	}
	return h.Disk + "/" + h.Volume + h.Path
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
func Find(ctx context.Context, repo *catalog.Repo, points []*catalog.Manifest, p *Pattern, warn func(error)) (*FindResult, error) {
	type out struct {
		hits  []Hit
		probs []Problem
	}
	res := make([]out, len(points))
	err := forEach(ctx, len(points), func(i int) error {
		ix, err := Load(ctx, repo, points[i], warn)
		if err != nil {
			return err
		}
		res[i].hits = search(ix, points[i], p)
		res[i].probs = problems(ix, points[i])
		return nil
	})
	if err != nil {
		return nil, err
	}
	fr := &FindResult{}
	for _, o := range res {
		fr.Hits = append(fr.Hits, o.hits...)
		fr.Problems = append(fr.Problems, o.probs...)
	}
	slices.SortFunc(fr.Hits, func(a, b Hit) int {
		if c := cmp.Compare(a.Disk, b.Disk); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Volume, b.Volume); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return a.Point.Time.Compare(b.Point.Time)
	})
	return fr, nil
}

func search(ix *Index, m *catalog.Manifest, p *Pattern) []Hit {
	var hits []Hit
	for _, v := range ix.Volumes {
		if v.Name == "" {
			continue
		}
		buf := []byte(v.Prefix())
		plen := len(buf)
		v.Paths(func(i int, path []byte) bool {
			if len(path) == 1 {
				return true // the root
			}
			name := path
			if !p.inVolume {
				buf = append(buf[:plen], path...)
				name = buf
			}
			if p.Match(name) {
				hits = append(hits, Hit{Point: m, Disk: v.Disk, Volume: v.Name, Entry: v.Entry(i, string(path))})
			}
			return true
		})
	}
	return hits
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

// forEach runs fn(0..n-1) on one worker per CPU and returns the first error.
func forEach(ctx context.Context, n int, fn func(i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		next     int
		firstErr error
		wg       sync.WaitGroup
	)
	for w := 0; w < min(n, runtime.GOMAXPROCS(0)); w++ {
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
				if err := fn(i); err != nil {
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
