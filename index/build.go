package index

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"syscall"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
)

// maxDepth bounds how deep the walk descends; Linux paths end at 4096
// bytes, so no real tree is deeper.
const maxDepth = 2048

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
	var vols []*buildVolume
	transient := false
	for _, d := range m.Disks {
		vs, err := buildDisk(ctx, repo, m, d.Name)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("index %s/%s: %w", m.VM, m.Name(), ctx.Err())
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
		return nil, fmt.Errorf("index %s/%s: %w", m.VM, m.Name(), err)
	}
	ix, err := Decode(enc)
	if err != nil {
		return nil, fmt.Errorf("index %s/%s: decode what was just encoded: %w", m.VM, m.Name(), err)
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

func buildDisk(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, disk string) ([]*buildVolume, error) {
	dr, err := repo.OpenDisk(ctx, m, disk)
	if err != nil {
		return nil, err
	}
	gd, err := guestfs.OpenDisk(dr, dr.Size(), nil)
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
		w := &walker{ctx: ctx, fs: v.FS, vol: bv, links: map[uint64]Entry{}, dirs: map[uint64]bool{}}
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

// walker indexes one filesystem, depth first.
type walker struct {
	ctx   context.Context
	fs    guestfs.FS
	ext   guestfs.Extenter // nil when extents are unknown or not on the disk
	keys  *keyer
	vol   *buildVolume
	links map[uint64]Entry // files with several links, by inode, once done
	dirs  map[uint64]bool  // directories seen, against cycles
}

type pending struct {
	path  string
	ino   uint64
	depth int
	idx   int // in vol.Entries
}

func (w *walker) walk() {
	root := w.fs.Root()
	w.dirs[root] = true
	w.add("/", guestfs.DirEntry{Name: "/", Ino: root, Mode: syscall.S_IFDIR})
	stack := []pending{{"/", root, 0, 0}}
	for len(stack) > 0 && w.ctx.Err() == nil {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		ents, err := w.fs.ReadDir(d.ino)
		if err != nil {
			w.vol.Entries[d.idx].ListFailed = true
			w.vol.warn("%s: list directory: %v", d.path, err)
		}
		for _, de := range ents {
			if de.Name == "." || de.Name == ".." {
				continue
			}
			if de.Name == "" || strings.ContainsAny(de.Name, "/\x00") {
				w.vol.warn("%s: entry %q (inode %d): invalid name, left out", d.path, de.Name, de.Ino)
				continue
			}
			p := d.path + "/" + de.Name
			if d.path == "/" {
				p = "/" + de.Name
			}
			e := w.add(p, de)
			if e.Mode&syscall.S_IFMT != syscall.S_IFDIR {
				continue
			}
			idx := len(w.vol.Entries) - 1
			switch {
			case w.dirs[de.Ino]:
				w.vol.Entries[idx].ListFailed = true
				w.vol.warn("%s: directory inode %d seen before (a cycle), not descended", p, de.Ino)
			case d.depth+1 >= maxDepth:
				w.vol.Entries[idx].ListFailed = true
				w.vol.warn("%s: deeper than %d directories, not descended", p, maxDepth)
			default:
				w.dirs[de.Ino] = true
				stack = append(stack, pending{p, de.Ino, d.depth + 1, idx})
			}
		}
	}
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
