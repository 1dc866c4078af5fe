package diff

import (
	"context"
	"fmt"
	"slices"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/index"
)

// Options choose what Compare does.
type Options struct {
	// Disks limits the comparison to these disks; all when empty.
	Disks []string
	// Blocks refines changed ranges to BlockSize and names their owners.
	Blocks    bool
	BlockSize int // 4096 when 0
	// NoFiles skips the file-level comparison.
	NoFiles bool
	// NoIndex walks both trees of every changed volume instead of taking
	// the paths to compare from the points' file indexes (which are built
	// and kept when missing). Slower; it also sees an xattr rewritten
	// behind the guest kernel's back without a change-time update.
	NoIndex bool
	// NoHash compares the two versions of a file instead of hashing them:
	// they are read side by side only up to the first difference, and
	// files in one point only are not read. Entry.SHA256 stays empty. For
	// callers that need what changed, not the sums (scan).
	NoHash bool
}

// Compare compares point a with point b. The chunk maps give the changed
// ranges of each disk without reading unchanged data; then the guest
// filesystems of the volumes those ranges touch are compared file by file.
func Compare(ctx context.Context, repo *catalog.Repo, a, b *catalog.Manifest, opts Options) (*Report, error) {
	bs := int64(opts.BlockSize)
	if bs == 0 {
		bs = 4096
	}
	cfg := repo.Config()
	maxBS := int64(cfg.ChunkSize)
	if cfg.Chunking != nil {
		maxBS = int64(cfg.Chunking.Min)
	}
	if bs < 512 || bs&(bs-1) != 0 || bs > maxBS {
		return nil, fmt.Errorf("block size %d: want a power of two from 512 to the smallest chunk %d", bs, maxBS)
	}
	r := &Report{VM: b.VM, A: a.Name(), B: b.Name()}
	c := &comparison{ctx: ctx, repo: repo, a: a, b: b, opts: opts, bs: bs, report: r}
	for _, name := range diskNames(a, b, opts.Disks) {
		da, _ := a.Disk(name)
		db, _ := b.Disk(name)
		if da == nil && db == nil {
			return nil, fmt.Errorf("disk %q is in neither point (%s has %v)", name, b.Name(), diskList(b))
		}
		d, err := c.disk(da, db)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// What was compared before the failure stays in the report.
			if d == nil {
				d = &Disk{Name: name}
			}
			d.Errors = append(d.Errors, err.Error())
		}
		r.Disks = append(r.Disks, d)
	}
	r.Errors = collectErrors(r)
	return r, nil
}

// comparison is one Compare call: what the comparison of each disk and
// volume shares.
type comparison struct {
	ctx    context.Context
	repo   *catalog.Repo
	a, b   *catalog.Manifest
	opts   Options
	bs     int64 // the block size changed ranges are refined to
	report *Report
}

// warn adds a warning to the report, once.
func (c *comparison) warn(w string) {
	if !slices.Contains(c.report.Warnings, w) {
		c.report.Warnings = append(c.report.Warnings, w)
	}
}

// index loads p's file index unless the options say to walk.
func (c *comparison) index(p *point, disk, vol, fsType string) *index.Volume {
	if c.opts.NoIndex {
		return nil
	}
	return indexVolume(p.index(c.ctx, c.repo, c.warn), disk, vol, fsType)
}

// collectErrors lists every error of the report, each prefixed with where
// it happened, as shown in the mount.
func collectErrors(r *Report) []string {
	var out []string
	for _, d := range r.Disks {
		for _, e := range d.Errors {
			out = append(out, d.Name+": "+e)
		}
		for _, v := range d.Volumes {
			prefix := d.Name + "/" + v.Name
			if v.Err != "" {
				out = append(out, prefix+": "+v.Err)
			}
			for _, e := range v.Errors {
				out = append(out, prefix+e.Path+": "+e.Err)
			}
			for _, c := range v.Changes {
				if c.Err != "" {
					out = append(out, prefix+c.Path+": "+c.Err)
				}
			}
		}
	}
	return out
}

func diskNames(a, b *catalog.Manifest, only []string) []string {
	if len(only) > 0 {
		return only
	}
	var names []string
	seen := map[string]bool{}
	for _, m := range []*catalog.Manifest{b, a} {
		for _, d := range m.Disks {
			if !seen[d.Name] {
				seen[d.Name] = true
				names = append(names, d.Name)
			}
		}
	}
	return names
}

func diskList(m *catalog.Manifest) []string {
	var s []string
	for _, d := range m.Disks {
		s = append(s, d.Name)
	}
	return s
}
