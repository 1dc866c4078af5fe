package index

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"syscall"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
)

// buildVolume is a volume's index while it is built.
type buildVolume struct {
	Disk, Name, FSType string
	NoFS               bool
	Err                string
	Warnings           []string
	moreWarnings       int
	Entries            []Entry

	// Between the walk and the keys: the volume and each regular file's
	// extents by inode (nil when its files have no place on the disk).
	volOff, volSize int64
	extents         map[uint64]extents
}

type extents struct {
	es  []guestfs.Extent
	err error
}

func (v *buildVolume) warn(format string, args ...any) {
	if len(v.Warnings) < maxWarnings-1 {
		v.Warnings = append(v.Warnings, fmt.Sprintf(format, args...))
	} else {
		v.moreWarnings++
	}
}

// Build indexes every volume of every disk of point m. It reads metadata
// only (directories, inodes, extents, chunk maps), never file data. A disk
// or volume that cannot be read is recorded with its error.
func Build(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest) (*Index, error) {
	return build(ctx, repo, m, nil)
}

// build indexes m, taking each disk's guest trees from walked when there
// (Start), else walking them in the store, and keying them by m's maps.
func build(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, walked map[string]*walkedDisk) (*Index, error) {
	var vols []*buildVolume
	transient := false
	for _, d := range m.Disks {
		vs, err := buildDisk(ctx, repo, m, d.Name, walked[d.Name])
		if ctx.Err() != nil {
			return nil, fmt.Errorf("index %s: %w", m.ID(), ctx.Err())
		}
		if err != nil {
			vs = []*buildVolume{{Disk: d.Name, Err: err.Error()}}
			transient = transient || isTransient(err)
		}
		vols = append(vols, vs...)
	}
	for _, v := range vols {
		if v.moreWarnings > 0 {
			v.Warnings = append(v.Warnings, fmt.Sprintf("and %d more problems", v.moreWarnings))
		}
	}
	enc, err := encode(vols)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", m.ID(), err)
	}
	ix, err := Decode(enc)
	if err != nil {
		return nil, fmt.Errorf("index %s: decode what was just encoded: %w", m.ID(), err)
	}
	ix.enc, ix.transient = enc, transient
	return ix, nil
}

// isTransient reports whether err comes from reading the store, which a
// repair may fix, rather than from what the guest wrote.
func isTransient(err error) bool {
	var re *catalog.ReadError
	return errors.As(err, &re)
}

func buildDisk(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, disk string, pre *walkedDisk) ([]*buildVolume, error) {
	dr, err := repo.OpenDisk(ctx, m, disk)
	if err != nil {
		return nil, err
	}
	var vols []*buildVolume
	if pre != nil && pre.size == dr.Size() {
		vols, err = pre.vols, pre.err
	} else {
		vols, err = walkDisk(ctx, dr, dr.Size(), disk, nil)
	}
	if err != nil {
		return nil, err
	}
	for _, v := range vols {
		v.key(ctx, dr.Map())
	}
	return vols, nil
}

// walkDisk lists the guest trees of the disk r, without content keys,
// and with bo (unless nil) hands out the disk's file boundaries.
func walkDisk(ctx context.Context, r io.ReaderAt, size int64, disk string, bo *boundsOpts) ([]*buildVolume, error) {
	gd, err := guestfs.OpenDisk(r, size, nil)
	if err != nil {
		if bo != nil { // nothing to read: content alone cuts the disk
			b := guestfs.NewBoundaries(&guestfs.Disk{})
			b.Problem(err)
			bo.got <- b
		}
		return nil, fmt.Errorf("disk %s: %w", disk, err)
	}
	var bounds *guestfs.Boundaries
	if bo != nil {
		bounds = guestfs.NewBoundaries(gd)
		bo.got <- bounds
		defer bounds.Stop() // the volumes not walked get none
	}
	var out []*buildVolume
	for _, v := range gd.Volumes {
		bv := &buildVolume{Disk: disk, Name: v.Name, FSType: v.Kind}
		out = append(out, bv)
		if v.FS == nil {
			bv.Err = "no filesystem"
			if v.Err != nil {
				bv.Err = v.Err.Error()
			}
			bv.NoFS = v.Kind == "" || v.Kind == "lvm2"
			continue
		}
		bv.FSType = v.FS.Type()
		w := &walker{ctx: ctx, fs: v.FS, vol: bv, links: map[uint64]Entry{}, dirs: map[string]int{}}
		if ext, ok := v.FS.(guestfs.Extenter); ok && v.Offset >= 0 {
			w.ext, bv.volOff, bv.volSize, bv.extents = ext, v.Offset, v.Size, map[uint64]extents{}
		}
		if bounds != nil && v.Walked() {
			w.bnd = &volBounds{x: v.FS.(guestfs.Extenter), v: v, b: bounds, opts: bo}
		}
		w.walk()
		if w.bnd != nil {
			bounds.Fill(v, w.bnd.cuts)
		}
		bv.Entries = dedupe(bv)
	}
	return out, nil
}

// key gives the regular files of v whose extents the walk read their
// content keys, from the disk's map m.
func (v *buildVolume) key(ctx context.Context, m *catalog.DiskMap) {
	if v.extents == nil {
		return
	}
	k := newKeyer(ctx, m, v.volOff, v.volSize)
	type keyed struct {
		key     ContentKey
		ok      bool
		err     error
		visited bool
	}
	done := map[uint64]keyed{} // hard links share their inode's key
	for i := range v.Entries {
		e := &v.Entries[i]
		x, ok := v.extents[e.Ino]
		if !ok || e.Mode&syscall.S_IFMT != syscall.S_IFREG {
			continue
		}
		r := done[e.Ino]
		if !r.visited {
			r.err = x.err
			if r.err == nil {
				r.key, r.ok, r.err = k.key(e.Size, x.es)
			}
			r.visited = true
			done[e.Ino] = r
		}
		e.Key, e.HasKey = r.key, r.ok
		if r.err != nil {
			v.warn("%s: content key: %v", e.Path, r.err)
		}
	}
	v.extents = nil
}

// dedupe sorts v's entries by path and drops repeated paths (a corrupt
// directory listing a name twice), keeping the lowest inode.
func dedupe(v *buildVolume) []Entry {
	es := v.Entries
	// By inode within a path too, so the choice does not depend on the
	// walk's order.
	slices.SortFunc(es, func(a, b Entry) int {
		return cmp.Or(strings.Compare(a.Path, b.Path), cmp.Compare(a.Ino, b.Ino))
	})
	out := es[:0]
	for i := range es {
		if i > 0 && es[i].Path == out[len(out)-1].Path {
			v.warn("%s: listed twice", es[i].Path)
			continue
		}
		out = append(out, es[i])
	}
	return out
}

// walker indexes one filesystem, through guestfs.Walk.
type walker struct {
	ctx   context.Context
	fs    guestfs.FS
	ext   guestfs.Extenter // nil when extents are unknown or not on the disk
	bnd   *volBounds       // the volume's file boundaries, when asked for
	vol   *buildVolume
	links map[uint64]Entry // files with several links, by inode, once done
	dirs  map[string]int   // directories' entries in vol.Entries, by path
}

func (w *walker) walk() {
	// Only a cancelled ctx ends the walk early, and Build checks it.
	_ = guestfs.Walk(w.ctx, w.fs, guestfs.Limits{}, w.visit, w.unlisted)
}

func (w *walker) visit(p string, de guestfs.DirEntry) error {
	e := w.add(p, de)
	if e.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return guestfs.SkipDir
	}
	w.dirs[p] = len(w.vol.Entries) - 1
	return nil
}

// unlisted records a path the walk could not go into: a directory that
// cannot be listed, met before (a cycle) or too deep; or a bad name in it.
func (w *walker) unlisted(p string, err error) {
	if i, ok := w.dirs[p]; ok && !errors.Is(err, guestfs.ErrBadName) {
		w.vol.Entries[i].ListFailed = true
	}
	w.vol.warn("%s: %v", p, err)
}

// add records the entry of path and returns it.
func (w *walker) add(path string, de guestfs.DirEntry) Entry {
	if e, ok := w.links[de.Ino]; ok {
		e.Path = path
		w.vol.Entries = append(w.vol.Entries, e)
		return e
	}
	e := Entry{Path: path, Ino: de.Ino, Mode: de.Mode}
	a, err := w.fs.Stat(de.Ino)
	if err != nil {
		e.StatFailed = true
		w.vol.warn("%s: stat inode %d: %v", path, de.Ino, err)
		w.vol.Entries = append(w.vol.Entries, e)
		return e
	}
	e.Mode, e.Nlink, e.Uid, e.Gid, e.Size = a.Mode, a.Nlink, a.Uid, a.Gid, a.Size
	e.Mtime, e.Ctime, e.Crtime, e.Atime, e.Gen = a.Mtime, a.Ctime, a.Crtime, a.Atime, a.Gen
	if e.Mode&syscall.S_IFMT == syscall.S_IFREG && (w.ext != nil || w.bnd != nil) {
		w.extents(&e)
	}
	if e.Nlink > 1 && e.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		w.links[de.Ino] = e
	}
	w.vol.Entries = append(w.vol.Entries, e)
	return e
}

// extents records the file's extents, for its content key once the map
// of the disk is known, and the boundaries they give.
func (w *walker) extents(e *Entry) {
	x := w.ext
	if x == nil {
		x = w.bnd.x
	}
	es, err := x.Extents(e.Ino)
	if w.ext != nil {
		w.vol.extents[e.Ino] = extents{es, err}
	}
	if b := w.bnd; b != nil {
		switch {
		case err != nil:
			b.b.Problem(fmt.Errorf("%s: %q: extents: %w", b.v.Name, e.Path, err))
		case len(b.cuts) < b.opts.maxCuts:
			b.cuts = b.v.FileCuts(b.cuts, es, b.opts.minSize, b.opts.align)
		}
	}
}

// boundsOpts asks a walk of a disk for its file boundaries
// (guestfs.FileBoundaries), handed out as it goes through got.
type boundsOpts struct {
	minSize, align int64
	maxCuts        int
	got            chan *guestfs.Boundaries // buffered: the walk never waits
}

// volBounds gathers the file boundaries of one volume being walked.
type volBounds struct {
	x    guestfs.Extenter
	v    *guestfs.Volume
	b    *guestfs.Boundaries
	opts *boundsOpts
	cuts []int64
}
