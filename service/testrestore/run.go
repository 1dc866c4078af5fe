package testrestore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
	"github.com/vmarchive/vmarchive/index"
)

// Options tune a test restore; the zero value reads every file.
type Options struct {
	// Sample N > 1 reads the data of Take files in N (doc.go); 0 or 1, all.
	Sample int
	// Take is how many files in Sample are read (default 1; at least
	// Sample reads them all), for a "sample 2/7" policy.
	Take int
	// Readers is how many files are read at once (default 4): a file's
	// chunks are fetched and decompressed while others are.
	Readers int
	// MaxProblems bounds the problems and warnings kept (default 20).
	MaxProblems int
}

func (o Options) withDefaults() Options {
	if o.Take < 1 {
		o.Take = 1
	}
	if o.Sample <= o.Take {
		o.Sample, o.Take = 1, 1
	}
	if o.Readers < 1 {
		o.Readers = 4
	}
	if o.MaxProblems < 1 {
		o.MaxProblems = 20
	}
	return o
}

// tester is one test restore of one point.
type tester struct {
	ctx  context.Context
	repo *catalog.Repo
	m    *catalog.Manifest
	opts Options
	ix   *index.Index // nil when it could not be loaded

	mu  sync.Mutex // guards res's counters and lists while files are read
	res *Result
}

// Run test-restores point m of repo (doc.go) and records the result
// with the point. The error is only for a test that could not run or be
// recorded; a point that fails is a Result with OK false.
func Run(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, opts Options) (*Result, error) {
	res, err := Test(ctx, repo, m, opts)
	if err != nil {
		return nil, err
	}
	if err := Save(repo, m.ID(), res); err != nil {
		return res, fmt.Errorf("record test restore of %s: %w", m.ID(), err)
	}
	return res, nil
}

// Check is Run for a caller that only needs to know whether the point
// passed (the service's Tester): a failed test is a *FailedError.
func Check(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, opts Options) error {
	res, err := Run(ctx, repo, m, opts)
	if err == nil && !res.OK {
		err = &FailedError{Point: m.ID(), Result: res}
	}
	return err
}

// FailedError is a test restore that ran and failed.
type FailedError struct {
	Point  catalog.PointID
	Result *Result
}

func (e *FailedError) Error() string {
	n := len(e.Result.Problems) + e.Result.MoreProblems
	if n == 1 {
		return fmt.Sprintf("test restore of %s failed: %s", e.Point, e.Result.Reason())
	}
	return fmt.Sprintf("test restore of %s failed: %s (and %d more problems)", e.Point, e.Result.Reason(), n-1)
}

// Test is Run without recording the result.
func Test(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, opts Options) (*Result, error) {
	opts = opts.withDefaults()
	start := time.Now()
	t := &tester{ctx: ctx, repo: repo, m: m, opts: opts,
		res: &Result{Version: resultVersion, Started: start.UTC().Truncate(time.Second), Sample: opts.Sample, Take: opts.Take}}
	t.loadIndex()
	seen := map[[2]string]bool{} // index volumes met, by disk and name
	for _, d := range m.Disks {
		t.disk(d.Name, seen)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("test restore of %s: %w", m.ID(), err)
		}
	}
	t.unmetVolumes(seen)
	t.res.Duration = time.Since(start)
	t.res.OK = len(t.res.Problems) == 0
	return t.res, nil
}

// loadIndex loads the point's file index, building it when there is none.
func (t *tester) loadIndex() {
	_, stored, err := t.repo.Derived(t.m.ID(), index.DerivedName)
	if err == nil {
		t.res.IndexBuilt = !stored
		t.ix, err = index.Load(t.ctx, t.repo, t.m, func(err error) { t.problem("", "index", err) })
	}
	if err != nil && t.ctx.Err() == nil {
		t.problem("", "index", err)
	}
}

func (t *tester) problem(path, what string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.res.Problems) < t.opts.MaxProblems {
		t.res.Problems = append(t.res.Problems, Problem{Path: path, What: what, Err: err.Error()})
	} else {
		t.res.MoreProblems++
	}
}

func (t *tester) warn(path, what string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.res.Warnings) < t.opts.MaxProblems {
		t.res.Warnings = append(t.res.Warnings, Problem{Path: path, What: what, Err: err.Error()})
	}
}

// disk opens one disk and its partition table and tests each volume.
func (t *tester) disk(name string, seen map[[2]string]bool) {
	dp := catalog.MountDiskName(name)
	dr, err := t.repo.OpenDisk(t.ctx, t.m, name)
	if err != nil {
		t.problem(dp, "open disk", err)
		return
	}
	t.res.Disks++
	gd, err := guestfs.OpenDisk(dr, dr.Size(), nil)
	if err != nil {
		t.problem(dp, "open disk", err)
		return
	}
	for _, w := range gd.Warnings {
		t.warn(dp, "partition table", errors.New(w))
	}
	// Volumes are walked side by side: a walk waits on one chunk at a time.
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxVolumes)
	for _, v := range gd.Volumes {
		seen[[2]string{name, v.Name}] = true
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			t.volume(name, v, dr.Map())
		}()
	}
	wg.Wait()
}

// maxVolumes is how many volumes of a disk are walked at once.
const maxVolumes = 4

// knownFS reports whether kind names a filesystem guestfs reads.
func knownFS(kind string) bool {
	return kind == "ext4" || kind == "ntfs" || kind == "vfat" || kind == "xfs"
}

// volume walks one volume and checks it against its index.
func (t *tester) volume(disk string, v *guestfs.Volume, dm *catalog.DiskMap) {
	vp := catalog.MountDiskName(disk) + "/" + v.Name
	var iv *index.Volume
	if t.ix != nil {
		if iv = t.ix.Volume(disk, v.Name); iv == nil {
			t.problem(vp, "index", errors.New("volume not in the file index"))
		}
	}
	if v.FS == nil {
		if knownFS(v.Kind) {
			t.problem(vp, "open "+v.Kind, v.Err)
		}
		if iv != nil && iv.Len() > 0 {
			t.problem(vp, "index", fmt.Errorf("the index lists %d entries, the volume has no readable filesystem", iv.Len()))
		}
		return
	}
	if iv != nil && iv.Err != "" {
		t.problem(vp, "index", fmt.Errorf("the index recorded the volume as unreadable (%q), it opens now", iv.Err))
	}
	walked := t.walk(vp, v.FS, newKeys(t.ctx, v, dm))
	if t.ctx.Err() != nil {
		return
	}
	t.mu.Lock()
	t.res.Volumes++
	t.mu.Unlock()
	if iv != nil {
		t.compare(vp, walked, iv)
	}
}

// unmetVolumes reports volumes the index has and the disks do not.
func (t *tester) unmetVolumes(seen map[[2]string]bool) {
	if t.ix == nil {
		return
	}
	for _, v := range t.ix.Volumes {
		if v.Name != "" && !seen[[2]string{v.Disk, v.Name}] && v.Len() > 0 {
			t.problem(v.Prefix(), "index", errors.New("volume in the file index but not found on the disk"))
		}
	}
}
