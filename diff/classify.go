package diff

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/vmarchive/vmarchive/guestfs"
)

// metaFields names the metadata that differs between two versions of the
// same type. Access and change times are left out: reading a file or any
// other change moves them, so they would bury the changes that matter.
func metaFields(a, b *node) []string {
	var f []string
	x, y := a.attr, b.attr
	if isReg(a) && x.Size != y.Size {
		f = append(f, "size")
	}
	if x.Mode != y.Mode {
		f = append(f, "mode")
	}
	if x.Uid != y.Uid {
		f = append(f, "uid")
	}
	if x.Gid != y.Gid {
		f = append(f, "gid")
	}
	if !x.Mtime.Equal(y.Mtime) {
		f = append(f, "mtime")
	}
	if !x.Crtime.Equal(y.Crtime) {
		f = append(f, "crtime")
	}
	if a.link != b.link {
		f = append(f, "target")
	}
	if t := x.Mode & syscall.S_IFMT; (t == syscall.S_IFCHR || t == syscall.S_IFBLK) && x.Rdev != y.Rdev {
		f = append(f, "rdev")
	}
	var names []string
	for k := range a.xattr {
		names = append(names, k)
	}
	for k := range b.xattr {
		if _, ok := a.xattr[k]; !ok {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		va, okA := a.xattr[k]
		vb, okB := b.xattr[k]
		if okA != okB || !bytes.Equal(va, vb) {
			f = append(f, "xattr:"+k)
		}
	}
	return f
}

// provedSame reports whether two same-sized versions of a file are known
// equal without reading them: their extents lie on the same disk bytes in
// both points and no changed range touches them, and the change time did
// not move (which also catches what extents do not show, such as data
// written inside an inode or an MFT record).
func (v *volumeDiff) provedSame(a, b *node) bool {
	if a.attr.Size != b.attr.Size || !a.attr.Ctime.Equal(b.attr.Ctime) || v.a.layout == nil || v.b.layout == nil {
		return false
	}
	xa, okA := v.a.fs.(guestfs.Extenter)
	xb, okB := v.b.fs.(guestfs.Extenter)
	if !okA || !okB {
		return false
	}
	ea, err := xa.Extents(a.attr.Ino)
	if err != nil {
		return false
	}
	eb, err := xb.Extents(b.attr.Ino)
	if err != nil || len(ea) != len(eb) || (len(ea) == 0 && a.attr.Size > 0) {
		return false
	}
	for i := range ea {
		if ea[i].Logical != eb[i].Logical || ea[i].Length != eb[i].Length {
			return false
		}
		da, okA := toDisk(v.a.layout, ea[i].Physical, ea[i].Length)
		db, okB := toDisk(v.b.layout, eb[i].Physical, eb[i].Length)
		if !okA || !okB || !slices.Equal(da, db) {
			return false
		}
		for _, d := range da {
			if overlaps(v.changed, d.off, d.n) {
				return false
			}
		}
	}
	return true
}

// overlaps reports whether [off, off+n) meets any of the sorted extents.
func overlaps(es []extent, off, n int64) bool {
	i := sort.Search(len(es), func(i int) bool { return es[i].end() > off })
	return i < len(es) && es[i].off < off+n
}

// changes classifies what the walk found, in path order. A file whose
// content could not be read is Modified when its size changed (its bytes
// differ whatever they are), else Unknown, with the error.
func (v *volumeDiff) changes() []Change {
	var out []Change
	for _, p := range v.pairs {
		c := Change{Path: p.b.path, From: p.from, Fields: p.fields, A: v.entry(p.a), B: v.entry(p.b), Err: v.errOf(p.a, p.b)}
		unread := c.A.SHA256 == "" || c.B.SHA256 == ""
		switch {
		case p.a.attr.Mode&syscall.S_IFMT != p.b.attr.Mode&syscall.S_IFMT:
			c.Status, c.Fields = TypeChanged, []string{"type"}
		case isReg(p.a) && p.differs:
			c.Fields = append([]string{"content"}, c.Fields...)
			c.Status = Modified
		case isReg(p.a) && !p.same && unread && c.Err != "" && p.a.attr.Size == p.b.attr.Size:
			c.Status = Unknown
		case isReg(p.a) && !p.same && (unread && c.Err != "" || c.A.SHA256 != c.B.SHA256):
			c.Fields = append([]string{"content"}, c.Fields...)
			c.Status = Modified
		case p.a.link != p.b.link:
			c.Status = Modified
		case len(p.fields) > 0:
			c.Status = MetadataOnly
		}
		if p.from != "" {
			c.Status = Renamed
		}
		if c.Status != "" {
			out = append(out, c)
		}
	}
	for _, n := range v.onlyA {
		out = append(out, Change{Status: Deleted, Path: n.path, A: v.entry(n), Err: v.errOf(n)})
	}
	for _, n := range v.onlyB {
		out = append(out, Change{Status: Added, Path: n.path, B: v.entry(n), Err: v.errOf(n)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// errOf joins the hashing errors of the given versions; "" when none.
func (v *volumeDiff) errOf(ns ...*node) string {
	var msgs []string
	for _, n := range ns {
		if err := v.hashErrs[n]; err != nil && !slices.Contains(msgs, err.Error()) {
			msgs = append(msgs, err.Error())
		}
	}
	return oneLine(strings.Join(msgs, "; "))
}

func (v *volumeDiff) entry(n *node) *Entry {
	a := n.attr
	e := &Entry{Ino: a.Ino, Type: typeName(a.Mode), Mode: a.Mode, Uid: a.Uid, Gid: a.Gid, Size: a.Size,
		Mtime: a.Mtime, Ctime: a.Ctime, Atime: a.Atime, Crtime: a.Crtime, Target: n.link}
	if h, ok := v.hashes[n]; ok {
		e.SHA256 = h
	}
	return e
}

// fillSame fills a proved-equal pair's A hash from B's.
func (v *volumeDiff) fillSame() {
	for _, p := range v.pairs {
		if p.same {
			if h, ok := v.hashes[p.b]; ok {
				v.hashes[p.a] = h
			}
		}
	}
}

func typeName(mode uint32) string {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return "file"
	case syscall.S_IFDIR:
		return "dir"
	case syscall.S_IFLNK:
		return "symlink"
	case syscall.S_IFCHR:
		return "char"
	case syscall.S_IFBLK:
		return "block"
	case syscall.S_IFIFO:
		return "fifo"
	case syscall.S_IFSOCK:
		return "socket"
	}
	return fmt.Sprintf("type %#o", mode&syscall.S_IFMT)
}
