package diff

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
	"github.com/vmarchive/vmarchive/index"
)

// run is a byte range of a volume that belongs to one file.
type run struct {
	off, n int64
	path   string
	note   string // the file's blocks were mapped only in part
}

// ownerMap says what owns each byte of one volume in one point.
type ownerMap struct {
	runs   []run   // sorted by off; NTFS records may overlap
	maxEnd []int64 // maxEnd[i] = max end of runs[:i+1]
	alloc  []guestfs.Region
	noMap  bool // the filesystem cannot tell free from used space
	// unmapped counts the files whose extents could not be read, and
	// first names one: used space that no mapped file owns may be
	// theirs, so it is not called metadata.
	unmapped int
	first    string
}

// failed records a file whose extents could not be read (in full), or a
// directory whose files could not be listed.
func (m *ownerMap) failed(msg string) {
	if m.unmapped == 0 {
		m.first = msg
	}
	m.unmapped++
}

// unmappedNote says why used space no mapped file owns is unknown.
func (m *ownerMap) unmappedNote() string {
	if m.unmapped == 1 {
		return "may be a file's whose blocks could not be mapped: " + m.first
	}
	return fmt.Sprintf("may be one of %d files whose blocks could not be mapped, e.g. %s", m.unmapped, m.first)
}

// err summarises the files that could not be mapped; nil when none.
func (m *ownerMap) err() error {
	switch m.unmapped {
	case 0:
		return nil
	case 1:
		return errors.New(m.first)
	}
	return fmt.Errorf("%s (and %d more files)", m.first, m.unmapped-1)
}

// buildOwners maps every file's extents, taking paths and inodes from the
// volume's file index when there is a complete one (no directory is read)
// and walking the tree otherwise. A file with several hard links is named
// by its first path in byte order.
func buildOwners(ctx context.Context, fs guestfs.FS, ix *index.Volume) (*ownerMap, error) {
	x, ok := fs.(guestfs.Extenter)
	if !ok {
		return nil, fmt.Errorf("%s: cannot map files to blocks", fs.Type())
	}
	m := &ownerMap{}
	var bs int64
	if b, ok := fs.(guestfs.Blocker); ok {
		bs = b.BlockSize()
	}
	// A file's last block is the file's, slack included; runs inside
	// a block (NTFS resident data) stay as they are. The extents read
	// before an error are the file's all the same.
	mapFile := func(ino uint64, p string) {
		exts, err := x.Extents(ino)
		note := ""
		if err != nil {
			m.failed(fmt.Sprintf("extents of %s: %v", p, err))
			note = "mapped in part: " + err.Error()
		}
		for _, ex := range exts {
			n := ex.Length
			if bs > 0 && ex.Physical%bs == 0 {
				n = (n + bs - 1) / bs * bs
			}
			m.runs = append(m.runs, run{ex.Physical, n, p, note})
		}
	}
	seen := map[uint64]bool{}
	// linked holds the smallest path of each inode met more than once.
	linked := map[uint64]string{}
	firstPath := map[uint64]string{}
	again := func(ino uint64, p string) {
		if q, ok := linked[ino]; !ok && p < firstPath[ino] || ok && p < q {
			linked[ino] = p
		}
	}
	visit := func(p string, e guestfs.DirEntry) error {
		if seen[e.Ino] {
			again(e.Ino, p)
			return guestfs.SkipDir
		}
		seen[e.Ino] = true
		firstPath[e.Ino] = p
		// A directory whose blocks the reader does not map (NTFS
		// indexes) still has its entries walked.
		mapFile(e.Ino, p)
		return nil
	}
	// A directory met twice hides no file; one that cannot be listed
	// hides the files below it, which may own used space.
	unlisted := func(p string, err error) {
		if !errors.Is(err, guestfs.ErrCycle) {
			m.failed(fmt.Sprintf("%s: %v", p, err))
		}
	}
	if entries, ok := completeEntries(ix); ok {
		for i, e := range entries {
			if i%1024 == 0 && ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if seen[e.Ino] {
				continue // sorted: the first path is the smallest
			}
			seen[e.Ino] = true
			mapFile(e.Ino, e.Path)
		}
	} else if err := guestfs.Walk(ctx, fs, guestfs.Limits{}, visit, unlisted); err != nil {
		return nil, err
	}
	if len(linked) > 0 {
		rename := map[string]string{}
		for ino, p := range linked {
			rename[firstPath[ino]] = p
		}
		for i := range m.runs {
			if p, ok := rename[m.runs[i].path]; ok {
				m.runs[i].path = p
			}
		}
	}
	sort.Slice(m.runs, func(i, j int) bool { return m.runs[i].off < m.runs[j].off })
	m.maxEnd = make([]int64, len(m.runs))
	var e int64
	for i, r := range m.runs {
		e = max(e, r.off+r.n)
		m.maxEnd[i] = e
	}
	if al, ok := fs.(guestfs.Allocator); ok {
		regions, err := al.Allocation()
		switch {
		case errors.Is(err, errors.ErrUnsupported):
			m.noMap = true
		case err != nil:
			return nil, fmt.Errorf("allocation map: %w", err)
		}
		m.alloc = regions
	} else {
		m.noMap = true
	}
	return m, nil
}

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

// completeEntries returns the entries of an index volume with no gaps.
func completeEntries(ix *index.Volume) ([]index.Entry, bool) {
	if ix == nil {
		return nil, false
	}
	es := ix.Entries()
	for i := range es {
		if es[i].StatFailed || es[i].ListFailed {
			return nil, false
		}
	}
	return es, true
}

// addOwners names what owns each changed range in both points.
func addOwners(ctx context.Context, repo *catalog.Repo, d *Disk, pa, pb *point, useIndex bool, warn func(string)) error {
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
			var ix *index.Volume
			if useIndex {
				ix = indexVolume(p.index(ctx, repo, warn), d.Name, v.Name, v.FS.Type())
			}
			m, errs[v] = buildOwners(ctx, v.FS, ix)
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
