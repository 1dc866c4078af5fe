package diff

import (
	"fmt"
	"sort"

	"github.com/vmarchive/vmarchive/guestfs"
)

// owners splits volume range [off, off+n) by owner; base turns volume
// offsets into disk offsets.
func (m *ownerMap) owners(base, off, n int64) []Owner {
	var out []Owner
	add := func(o Owner) {
		if k := len(out) - 1; k >= 0 && out[k].Kind == o.Kind && out[k].Path == o.Path && out[k].Note == o.Note && out[k].Off+out[k].Len == o.Off {
			out[k].Len += o.Len
			return
		}
		out = append(out, o)
	}
	end := off + n
	i := sort.Search(len(m.runs), func(i int) bool { return m.maxEnd[i] > off })
	covered := off // everything before this is owned by a file
	for ; i < len(m.runs) && m.runs[i].off < end; i++ {
		r := m.runs[i]
		lo, hi := max(r.off, off), min(r.off+r.n, end)
		if lo >= hi {
			continue
		}
		if lo > covered {
			m.unowned(covered, lo, base, add)
		}
		add(Owner{Kind: OwnerFile, Path: r.path, Off: base + lo, Len: hi - lo, Note: r.note})
		covered = max(covered, hi)
	}
	if covered < end {
		m.unowned(covered, end, base, add)
	}
	return out
}

// unowned classifies [lo, hi), which no file owns, from the allocation
// map: used space that is no file's data is filesystem metadata (inode
// tables, extent trees, directory indexes, the journal) — unless some
// file could not be mapped, when only static structures are known to be.
func (m *ownerMap) unowned(lo, hi, base int64, add func(Owner)) {
	if m.noMap {
		add(Owner{Kind: OwnerUnknown, Off: base + lo, Len: hi - lo, Note: "the filesystem cannot tell free space from used"})
		return
	}
	i := sort.Search(len(m.alloc), func(i int) bool { return m.alloc[i].Off+m.alloc[i].Len > lo })
	for lo < hi {
		if i >= len(m.alloc) || m.alloc[i].Off >= hi {
			add(Owner{Kind: OwnerUnallocated, Off: base + lo, Len: hi - lo})
			return
		}
		r := m.alloc[i]
		if r.Off > lo {
			add(Owner{Kind: OwnerUnallocated, Off: base + lo, Len: r.Off - lo})
			lo = r.Off
		}
		e := min(hi, r.Off+r.Len)
		if r.Kind == guestfs.RegionUsed && m.unmapped > 0 {
			add(Owner{Kind: OwnerUnknown, Off: base + lo, Len: e - lo, Note: m.unmappedNote()})
		} else {
			add(Owner{Kind: OwnerMetadata, Off: base + lo, Len: e - lo})
		}
		lo = e
		i++
	}
}

// owners names what owns each changed range in both points.
func (c *comparison) owners(d *Disk, pa, pb *point) error {
	o := &ownerLookup{c: c, disk: d.Name, maps: map[*guestfs.Volume]*ownerMap{},
		errs: map[*guestfs.Volume]error{}, where: map[*guestfs.Volume]*point{}}
	for i := range d.Ranges {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		r := &d.Ranges[i]
		r.A, r.B = o.ownerOf(pa, *r), o.ownerOf(pb, *r)
	}
	for _, v := range o.built {
		err := o.errs[v]
		if err != nil && c.ctx.Err() != nil {
			return c.ctx.Err()
		}
		if err == nil {
			err = o.maps[v].err() // some files could not be mapped
		}
		if err != nil {
			noteVolume(d, v.Name, fmt.Sprintf("point %s: block owners: %v", o.where[v].m.Name(), err))
		}
	}
	return nil
}

// ownerLookup builds each volume's owner map once, on first use.
type ownerLookup struct {
	c     *comparison
	disk  string
	maps  map[*guestfs.Volume]*ownerMap
	errs  map[*guestfs.Volume]error
	where map[*guestfs.Volume]*point
	built []*guestfs.Volume // in the order built, for stable errors
}

// ownerOf names what owns range r in point p.
func (o *ownerLookup) ownerOf(p *point, r Range) []Owner {
	unknown := func(why string) []Owner {
		return []Owner{{Kind: OwnerUnknown, Off: r.Off, Len: r.Len, Note: why}}
	}
	if p.disk == nil {
		return nil
	}
	if r.Volume == "" {
		return []Owner{{Kind: OwnerTable, Off: r.Off, Len: r.Len}}
	}
	v := p.volume(r.Volume)
	if v == nil {
		return unknown("no volume " + r.Volume + " in this point")
	}
	piece, ok := pieceAt(v.Layout, r.Off)
	switch {
	case !ok || r.Off+r.Len > piece.DiskOff+piece.Len:
		return unknown("the volume's layout does not place these bytes")
	case v.FS == nil && v.Err != nil:
		return unknown(oneLine(v.Err.Error()))
	case v.FS == nil:
		return unknown("no filesystem")
	}
	m := o.ownerMap(p, v)
	if m == nil {
		return unknown("block owners: " + oneLine(o.errs[v].Error()))
	}
	base := piece.DiskOff - piece.Off
	return m.owners(base, r.Off-base, r.Len)
}

// ownerMap returns v's owner map, built on first use; nil when it cannot
// be built, and then errs says why.
func (o *ownerLookup) ownerMap(p *point, v *guestfs.Volume) *ownerMap {
	m, ok := o.maps[v]
	if !ok && o.errs[v] == nil {
		m, o.errs[v] = buildOwners(o.c.ctx, v.FS, o.c.index(p, o.disk, v.Name, v.FS.Type()))
		o.maps[v], o.where[v] = m, p
		o.built = append(o.built, v)
	}
	return m
}

// noteVolume adds an error to the named volume of d.
func noteVolume(d *Disk, name, msg string) {
	for i := range d.Volumes {
		if v := &d.Volumes[i]; v.Name == name {
			if v.Err != "" {
				v.Err += "; "
			}
			v.Err += oneLine(msg)
			return
		}
	}
	d.Volumes = append(d.Volumes, Volume{Name: name, Err: oneLine(msg)})
}
