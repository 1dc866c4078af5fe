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

// addOwners names what owns each changed range in both points.
func (c *comparison) owners(d *Disk, pa, pb *point) error {
	ctx := c.ctx
	maps := map[*guestfs.Volume]*ownerMap{}
	errs := map[*guestfs.Volume]error{}
	where := map[*guestfs.Volume]*point{}
	var built []*guestfs.Volume // in the order built, for stable errors
	unknown := func(r Range, why string) []Owner {
		return []Owner{{Kind: OwnerUnknown, Off: r.Off, Len: r.Len, Note: why}}
	}
	ownerOf := func(p *point, r Range) []Owner {
		if p.disk == nil {
			return nil
		}
		if r.Volume == "" {
			return []Owner{{Kind: OwnerTable, Off: r.Off, Len: r.Len}}
		}
		v := p.volume(r.Volume)
		if v == nil {
			return unknown(r, "no volume "+r.Volume+" in this point")
		}
		piece, ok := pieceAt(v.Layout, r.Off)
		if !ok || r.Off+r.Len > piece.DiskOff+piece.Len {
			return unknown(r, "the volume's layout does not place these bytes")
		}
		if v.FS == nil {
			if v.Err != nil {
				return unknown(r, oneLine(v.Err.Error()))
			}
			return unknown(r, "no filesystem")
		}
		m, ok := maps[v]
		if !ok && errs[v] == nil {
			m, errs[v] = buildOwners(ctx, v.FS, c.index(p, d.Name, v.Name, v.FS.Type()))
			maps[v], where[v] = m, p
			built = append(built, v)
		}
		if m == nil {
			return unknown(r, "block owners: "+oneLine(errs[v].Error()))
		}
		base := piece.DiskOff - piece.Off
		return m.owners(base, r.Off-base, r.Len)
	}
	for i := range d.Ranges {
		if err := ctx.Err(); err != nil {
			return err
		}
		r := &d.Ranges[i]
		r.A, r.B = ownerOf(pa, *r), ownerOf(pb, *r)
	}
	for _, v := range built {
		err := errs[v]
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			err = maps[v].err() // some files could not be mapped
		}
		if err != nil {
			noteVolume(d, v.Name, fmt.Sprintf("point %s: block owners: %v", where[v].m.Name(), err))
		}
	}
	return nil
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
