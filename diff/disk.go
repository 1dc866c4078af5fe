package diff

import (
	"errors"
	"fmt"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/format"
	"github.com/vmarchive/vmarchive/guestfs"
)

// compareDisk compares one disk. On an error it returns what it had
// compared so far with the error.
func (c *comparison) disk(da, db *catalog.DiskRecord) (*Disk, error) {
	ctx, repo, opts := c.ctx, c.repo, c.opts
	pa, pb := &point{m: c.a, rec: da}, &point{m: c.b, rec: db}
	d := &Disk{SizeA: pa.size(), SizeB: pb.size()}
	var err error
	for _, p := range []*point{pa, pb} {
		if p.rec == nil {
			p.dmap, err = repo.OpenDiskMap(ctx, p.m, &catalog.DiskRecord{Name: "(absent)"})
		} else {
			d.Name = p.rec.Name
			p.dmap, err = repo.OpenDiskMap(ctx, p.m, p.rec)
		}
		if err != nil {
			return d, fmt.Errorf("point %s: %w", p.m.Name(), err)
		}
	}
	// Ranges are whole chunks: of the chunk size in format 1, of any
	// multiple of 4096 in format 2.
	d.Granularity = int64(max(pa.dmap.MaxChunk(), pb.dmap.MaxChunk()))
	if c.a.Chunking != nil || c.b.Chunking != nil {
		d.Granularity = format.MapAlign
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
	ranges, err := c.refine(d, pa, pb, changed)
	if err != nil {
		return nil, err
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
		if err := c.volumes(d, pa, pb, ranges); err != nil {
			return nil, err
		}
	}
	placeRanges(d, pa, pb)
	if opts.Blocks {
		if err := c.owners(d, pa, pb); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// compareVolumes compares, file by file, every volume whose bytes changed.
func (c *comparison) volumes(d *Disk, pa, pb *point, changed []extent) error {
	ctx := c.ctx
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
		vd := &volumeDiff{ctx: ctx, a: sa, b: sb, changed: changed, renames: out.Type != "vfat", noHash: c.opts.NoHash}
		if out.Type == "ntfs" {
			vd.extra = []string{"system.ntfs_attrib", "system.ntfs_acl"}
		}
		if sa.fs != nil && sb.fs != nil && sa.fs.Type() == sb.fs.Type() {
			vd.ia = c.index(pa, d.Name, name, va.FS.Type())
			vd.ib = c.index(pb, d.Name, name, vb.FS.Type())
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

// refine narrows the changed chunks to the option's block size when asked;
// if that fails the chunk-sized ranges stay (true, only coarser) and the
// disk says why.
func (c *comparison) refine(d *Disk, pa, pb *point, changed []extent) ([]extent, error) {
	if !c.opts.Blocks || len(changed) == 0 {
		return changed, nil
	}
	refined, err := refine(c.ctx, c.repo, pa.dmap, pb.dmap, changed, c.bs)
	switch {
	case err == nil:
		d.Granularity, d.Refined = c.bs, true
		return refined, nil
	case c.ctx.Err() != nil:
		return nil, c.ctx.Err()
	}
	d.Errors = append(d.Errors, fmt.Sprintf("changed ranges not refined to %d bytes: %v", c.bs, err))
	return changed, nil
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
