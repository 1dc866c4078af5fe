package scan

import (
	"context"
	"fmt"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/diff"
)

// Options choose what Scan does.
type Options struct {
	From, To string // point names or "latest"; the VM's first and last when ""
	Rules    *Rules // DefaultRules when nil
	// FindLastClean stops at the first point that trips a signal.
	FindLastClean bool
	// Record keeps each scanned point's state in the catalog (State),
	// when the repository is open for writing.
	Record bool
}

// Point is the scan of one point against the point before it.
type Point struct {
	Point       string   `json:"point"`
	Before      string   `json:"before,omitempty"` // "" for the VM's first point: nothing to compare
	NewBytes    int64    `json:"new_bytes"`        // bytes of the new chunks
	StoredBytes int64    `json:"stored_bytes"`     // what they take compressed
	RawBytes    int64    `json:"raw_bytes"`        // of NewBytes, in chunks that did not compress
	Changed     int      `json:"changed_files"`    // files added or with new content
	Signals     []Signal `json:"signals,omitempty"`
	Yara        string   `json:"yara,omitempty"` // what the YARA step did; "" without yara rules
	Warnings    []string `json:"warnings,omitempty"`
	Errors      []string `json:"errors,omitempty"` // what could not be scanned
}

// Tripped reports whether the point tripped a signal.
func (p *Point) Tripped() bool { return len(p.Signals) > 0 }

// Result is a scan of a range of points.
type Result struct {
	VM     string  `json:"vm"`
	Points []Point `json:"points"`
	// FirstTripped is the oldest point that tripped a signal, "" if none.
	FirstTripped string `json:"first_tripped,omitempty"`
	// LastClean is the newest point before FirstTripped (the newest point
	// scanned when none tripped and all were scanned completely), "" when
	// there is none.
	LastClean string `json:"last_clean,omitempty"`
}

// Complete reports whether every point was scanned without errors.
func (r *Result) Complete() bool {
	for _, p := range r.Points {
		if len(p.Errors) > 0 {
			return false
		}
	}
	return true
}

// Scan scans the points of vm from opts.From to opts.To, oldest first,
// each against the point before it (which may lie before From).
func Scan(ctx context.Context, repo *catalog.Repo, vm string, opts Options) (*Result, error) {
	if opts.Rules == nil {
		opts.Rules = DefaultRules()
	}
	pts, lo, hi, err := pointRange(repo, vm, opts.From, opts.To)
	if err != nil {
		return nil, err
	}
	res := &Result{VM: vm}
	for i := lo; i <= hi; i++ {
		p := Point{Point: pts[i].Name()}
		if i > 0 {
			if err := scanPair(ctx, repo, pts[i-1], pts[i], opts.Rules, &p); err != nil {
				return nil, err
			}
			if opts.Record && !repo.ReadOnly() {
				if err := record(repo, pts[i], &p); err != nil {
					p.Warnings = append(p.Warnings, err.Error())
				}
			}
		}
		res.Points = append(res.Points, p)
		if p.Tripped() && res.FirstTripped == "" {
			res.FirstTripped, res.LastClean = p.Point, p.Before
			if opts.FindLastClean {
				break
			}
		}
	}
	if res.FirstTripped == "" && res.Complete() {
		res.LastClean = res.Points[len(res.Points)-1].Point
	}
	return res, nil
}

// pointRange returns vm's points and the indexes of from and to.
func pointRange(repo *catalog.Repo, vm, from, to string) ([]*catalog.Manifest, int, int, error) {
	pts, err := repo.Points(vm)
	if err != nil {
		return nil, 0, 0, err
	}
	if len(pts) == 0 {
		return nil, 0, 0, fmt.Errorf("VM %q has no points", vm)
	}
	find := func(name string, def int) (int, error) {
		if name == "" {
			return def, nil
		}
		m, err := repo.Point(vm, name)
		if err != nil {
			return 0, err
		}
		for i, p := range pts {
			if p.Time.Equal(m.Time) {
				return i, nil
			}
		}
		return 0, fmt.Errorf("VM %q: point %s not listed", vm, m.Name())
	}
	lo, err := find(from, 0)
	if err != nil {
		return nil, 0, 0, err
	}
	hi, err := find(to, len(pts)-1)
	if err != nil {
		return nil, 0, 0, err
	}
	if lo > hi {
		return nil, 0, 0, fmt.Errorf("VM %q: --from %s is after --to %s", vm, pts[lo].Name(), pts[hi].Name())
	}
	return pts, lo, hi, nil
}

// scanPair fills p with the scan of b against a.
func scanPair(ctx context.Context, repo *catalog.Repo, a, b *catalog.Manifest, rules *Rules, p *Point) error {
	p.Before = a.Name()
	rep, err := diff.Compare(ctx, repo, a, b, diff.Options{NoHash: true})
	if err != nil {
		return fmt.Errorf("compare %s with %s: %w", b.Name(), a.Name(), err)
	}
	p.Warnings, p.Errors = append(p.Warnings, rep.Warnings...), append(p.Errors, rep.Errors...)
	f := &Facts{}
	for i := range b.Disks {
		dd, err := newData(ctx, repo, a, b, &b.Disks[i])
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			p.Errors = append(p.Errors, err.Error())
			continue
		}
		f.NewBytes += dd.newBytes
		f.StoredBytes += dd.storedBytes
		f.RawBytes += dd.rawBytes
	}
	files := fileFacts(rep, f)
	p.NewBytes, p.StoredBytes, p.RawBytes, p.Changed = f.NewBytes, f.StoredBytes, f.RawBytes, len(files)
	g := &guest{ctx: ctx, repo: repo, m: b}
	if err := countBefore(ctx, repo, a, f, rules, p); err != nil {
		return err
	}
	if EntropyTrips(f, rules) {
		f.RawFiles = g.randomFiles(files, p)
	}
	if len(rules.Yara) > 0 {
		f.YaraMatches, p.Yara = g.yara(rules.Yara, files, p)
	}
	p.Signals = Classify(f, rules)
	return ctx.Err()
}
