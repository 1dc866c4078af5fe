package index

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
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
	return BuildFrom(ctx, repo, m, nil)
}

// BuildFrom is Build reading the guest trees of the disks named in
// sources from there instead of the store: the images a point was just
// made of, which hold the same bytes, so the walk decompresses nothing.
// The content keys still come from the point's maps. A source must have a
// Size method giving the disk's size, and the caller vouches that it is
// unchanged since the point was made of it.
func BuildFrom(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, sources map[string]io.ReaderAt) (*Index, error) {
	var vols []*buildVolume
	transient := false
	for _, d := range m.Disks {
		vs, err := buildDisk(ctx, repo, m, d.Name, sources[d.Name])
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

func buildDisk(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, disk string, src io.ReaderAt) ([]*buildVolume, error) {
	dr, err := repo.OpenDisk(ctx, m, disk)
	if err != nil {
		return nil, err
	}
	var r io.ReaderAt = dr
	if s, ok := src.(interface{ Size() int64 }); ok && s.Size() == dr.Size() {
		r = src
	}
	gd, err := guestfs.OpenDisk(r, dr.Size(), nil)
	if err != nil {
		return nil, fmt.Errorf("disk %s: %w", disk, err)
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
			w.ext, w.keys = ext, newKeyer(ctx, dr.Map(), v)
		}
		w.walk()
		sort.Slice(bv.Entries, func(i, j int) bool { return bv.Entries[i].Path < bv.Entries[j].Path })
		bv.Entries = dedupe(bv)
	}
	return out, nil
}

// dedupe drops repeated paths (a corrupt directory listing a name twice),
// keeping the first.
func dedupe(v *buildVolume) []Entry {
	es := v.Entries
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
	keys  *keyer
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
	e.Mtime, e.Ctime, e.Crtime = a.Mtime, a.Ctime, a.Crtime
	if e.Mode&syscall.S_IFMT == syscall.S_IFREG && w.ext != nil {
		w.contentKey(&e)
	}
	if e.Nlink > 1 && e.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		w.links[de.Ino] = e
	}
	w.vol.Entries = append(w.vol.Entries, e)
	return e
}

func (w *walker) contentKey(e *Entry) {
	es, err := w.ext.Extents(e.Ino)
	if err == nil {
		e.Key, e.HasKey, err = w.keys.key(e.Size, es)
	}
	if err != nil {
		w.vol.warn("%s: content key: %v", e.Path, err)
	}
}
