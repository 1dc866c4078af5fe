package diff

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
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
}

// Compare compares point a with point b. The chunk maps give the changed
// ranges of each disk without reading unchanged data; then the guest
// filesystems of the volumes those ranges touch are compared file by file.
func Compare(ctx context.Context, repo *catalog.Repo, a, b *catalog.Manifest, opts Options) (*Report, error) {
	bs := int64(opts.BlockSize)
	if bs == 0 {
		bs = 4096
	}
	if bs < 512 || bs&(bs-1) != 0 || bs > int64(repo.Config().ChunkSize) {
		return nil, fmt.Errorf("block size %d: want a power of two from 512 to the chunk size %d", bs, repo.Config().ChunkSize)
	}
	r := &Report{VM: b.VM, A: a.Name(), B: b.Name()}
	warn := func(w string) {
		if !slices.Contains(r.Warnings, w) {
			r.Warnings = append(r.Warnings, w)
		}
	}
	for _, name := range diskNames(a, b, opts.Disks) {
		da, _ := a.Disk(name)
		db, _ := b.Disk(name)
		if da == nil && db == nil {
			return nil, fmt.Errorf("disk %q is in neither point (%s has %v)", name, b.Name(), diskList(b))
		}
		d, err := compareDisk(ctx, repo, a, b, da, db, opts, bs, warn)
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

// point is one point's side of a disk comparison.
type point struct {
	m    *catalog.Manifest
	rec  *catalog.DiskRecord
	dmap *catalog.DiskMap
	disk *guestfs.Disk // opened on demand
	ix   *index.Index  // the point's file index, loaded on demand
	ixOK bool          // ix was tried
}

// index loads the point's file index once; nil when it cannot be had,
// and then the trees are walked. A stored index that is unusable (and so
// rebuilt) or cannot be had is reported to warn, naming the point.
func (p *point) index(ctx context.Context, repo *catalog.Repo, warn func(string)) *index.Index {
	if !p.ixOK {
		p.ixOK = true
		var err error
		p.ix, err = index.Load(ctx, repo, p.m, func(err error) { warn(err.Error()) })
		if err != nil && ctx.Err() == nil {
			warn(fmt.Sprintf("file index of %s/%s unusable: %v; its trees were walked instead", p.m.VM, p.m.Name(), err))
		}
	}
	return p.ix
}

func (p *point) size() int64 {
	if p.rec == nil {
		return 0
	}
	return p.rec.Size
}

func (p *point) open(ctx context.Context, repo *catalog.Repo) error {
	if p.rec == nil || p.disk != nil {
		return nil
	}
	r, err := repo.OpenDisk(ctx, p.m, p.rec.Name)
	if err != nil {
		return err
	}
	if p.disk, err = guestfs.OpenDisk(r, r.Size(), nil); err != nil {
		return fmt.Errorf("point %s: %w", p.m.Name(), err)
	}
	return nil
}

func (p *point) volume(name string) *guestfs.Volume {
	if p.disk == nil {
		return nil
	}
	for _, v := range p.disk.Volumes {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// compareDisk compares one disk. On an error it returns what it had
// compared so far with the error.
func compareDisk(ctx context.Context, repo *catalog.Repo, ma, mb *catalog.Manifest, da, db *catalog.DiskRecord, opts Options, bs int64, warn func(string)) (*Disk, error) {
	cs := repo.Config().ChunkSize
	pa, pb := &point{m: ma, rec: da}, &point{m: mb, rec: db}
	d := &Disk{SizeA: pa.size(), SizeB: pb.size(), Granularity: int64(cs)}
	var err error
	for _, p := range []*point{pa, pb} {
		if p.rec == nil {
			p.dmap, err = repo.OpenDiskMap(ctx, cs, &catalog.DiskRecord{Name: "(absent)"})
		} else {
			d.Name = p.rec.Name
			p.dmap, err = repo.OpenDiskMap(ctx, cs, p.rec)
		}
		if err != nil {
			return d, fmt.Errorf("point %s: %w", p.m.Name(), err)
		}
	}
	switch {
	case da == nil:
		d.Status = Added
	case db == nil:
		d.Status = Deleted
	}
	changed, err := changedChunks(ctx, pa.dmap, pb.dmap)
	if err != nil {
		return d, err
	}
	ranges := changed
	if opts.Blocks && len(changed) > 0 {
		if refined, err := refine(ctx, repo, pa.dmap, pb.dmap, changed, bs); err == nil {
			ranges, d.Granularity = refined, bs
		} else if ctx.Err() != nil {
			return nil, ctx.Err()
		} else {
			// The chunk-sized ranges stay: true, only coarser.
			d.Errors = append(d.Errors, fmt.Sprintf("changed ranges not refined to %d bytes: %v", bs, err))
		}
	}
	d.Ranges = make([]Range, 0, len(ranges))
	for _, e := range ranges {
		d.Ranges = append(d.Ranges, Range{Off: e.off, Len: e.n})
		d.ChangedBytes += e.n
	}
	if len(changed) == 0 && d.SizeA == d.SizeB && d.Status == "" || opts.NoFiles && !opts.Blocks {
		return d, nil
	}
	for _, p := range []*point{pa, pb} {
		if err := p.open(ctx, repo); err != nil {
			return d, err
		}
	}
	if !opts.NoFiles {
		if err := compareVolumes(ctx, repo, d, pa, pb, ranges, !opts.NoIndex, warn); err != nil {
			return nil, err
		}
	}
	placeRanges(d, pa, pb)
	if opts.Blocks {
		if err := addOwners(ctx, repo, d, pa, pb, !opts.NoIndex, warn); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// compareVolumes compares, file by file, every volume whose bytes changed.
func compareVolumes(ctx context.Context, repo *catalog.Repo, d *Disk, pa, pb *point, changed []extent, useIndex bool, warn func(string)) error {
	for _, name := range volumeNames(pa, pb) {
		va, vb := pa.volume(name), pb.volume(name)
		out := Volume{Name: name}
		for _, v := range []*guestfs.Volume{va, vb} {
			if v != nil && v.FS != nil {
				out.Type = v.FS.Type()
			}
		}
		if va != nil && vb != nil && va.Size == vb.Size && sameLayout(va.Layout, vb.Layout) && !touched(changed, va.Layout) {
			d.Volumes = append(d.Volumes, out) // not a byte changed
			continue
		}
		if bad := brokenVolume(pa, pb, va, vb); bad != nil {
			out.Err = bad.Error()
			d.Volumes = append(d.Volumes, out)
			continue
		}
		sa, sb := sideOf(va, pa), sideOf(vb, pb)
		sa.which, sb.which = "a", "b"
		if sa.fs == nil && sb.fs == nil {
			// No filesystem to read (swap, raw data, an LVM physical
			// volume): its changed ranges say all there is to say.
			d.Volumes = append(d.Volumes, out)
			continue
		}
		vd := &volumeDiff{ctx: ctx, a: sa, b: sb, changed: changed, renames: out.Type != "vfat"}
		if out.Type == "ntfs" {
			vd.extra = []string{"system.ntfs_attrib", "system.ntfs_acl"}
		}
		if useIndex && sa.fs != nil && sb.fs != nil && sa.fs.Type() == sb.fs.Type() {
			vd.ia = indexVolume(pa.index(ctx, repo, warn), d.Name, name, va.FS.Type())
			vd.ib = indexVolume(pb.index(ctx, repo, warn), d.Name, name, vb.FS.Type())
		}
		cs, err := vd.run()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			out.Err = err.Error()
		}
		out.Changes, out.Errors = cs, vd.unread
		d.Volumes = append(d.Volumes, out)
	}
	return nil
}

// sideOf is a point's version of a volume; without a filesystem it is
// compared as absent (its files listed as added or deleted).
func sideOf(v *guestfs.Volume, p *point) side {
	if v == nil || v.FS == nil {
		return side{point: p.m.Name()}
	}
	return side{fs: v.FS, layout: v.Layout, point: p.m.Name()}
}

// brokenVolume says why a volume present in a point has no filesystem,
// unless it holds none to read: swap or raw data, or an LVM physical
// volume, whose logical volumes are compared on their own.
func brokenVolume(pa, pb *point, va, vb *guestfs.Volume) error {
	for _, s := range []struct {
		p *point
		v *guestfs.Volume
	}{{pa, va}, {pb, vb}} {
		v := s.v
		if v == nil || v.FS != nil || errors.Is(v.Err, guestfs.ErrUnknownFS) || v.Kind == "lvm2" {
			continue
		}
		if v.Err != nil {
			return fmt.Errorf("point %s: %w", s.p.m.Name(), v.Err)
		}
		return fmt.Errorf("point %s: %s: no filesystem", s.p.m.Name(), v.Name)
	}
	return nil
}

func volumeNames(pa, pb *point) []string {
	var names []string
	seen := map[string]bool{}
	for _, p := range []*point{pb, pa} {
		if p.disk == nil {
			continue
		}
		for _, v := range p.disk.Volumes {
			if !seen[v.Name] {
				seen[v.Name] = true
				names = append(names, v.Name)
			}
		}
	}
	return names
}

// placeRanges names the volume each changed range lies in, splitting
// ranges at the edges of volume pieces. Logical volumes come before the
// physical volumes that hold them; B's layout before A's.
func placeRanges(d *Disk, pa, pb *point) {
	type placed struct {
		name string
		p    guestfs.Piece
	}
	var lvs, parts []placed
	for _, pt := range []*point{pb, pa} {
		if pt.disk == nil {
			continue
		}
		for _, v := range pt.disk.Volumes {
			for _, p := range v.Layout {
				if v.Offset < 0 {
					lvs = append(lvs, placed{v.Name, p})
				} else {
					parts = append(parts, placed{v.Name, p})
				}
			}
		}
	}
	all := append(lvs, parts...)
	var out []Range
	for _, r := range d.Ranges {
		for r.Len > 0 {
			cut, name := r.Len, ""
			for _, x := range all {
				if r.Off >= x.p.DiskOff && r.Off < x.p.DiskOff+x.p.Len {
					cut, name = min(r.Len, x.p.DiskOff+x.p.Len-r.Off), x.name
					break
				}
			}
			for _, x := range all {
				if x.p.DiskOff > r.Off {
					cut = min(cut, x.p.DiskOff-r.Off) // a more specific piece may start inside
				}
			}
			out = append(out, Range{Off: r.Off, Len: cut, Volume: name})
			r.Off += cut
			r.Len -= cut
		}
	}
	d.Ranges = out
}
