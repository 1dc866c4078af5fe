package index

import (
	"bytes"
	"strings"

	"github.com/vmarchive/vmarchive/catalog"
)

// Index is the file index of one point. It is immutable and safe for
// concurrent use.
type Index struct {
	Volumes []*Volume
	// enc is the encoded form when the index was just built, for Store.
	enc []byte
	// transient says a volume failed for a reason that may pass (a store
	// read error): such an index is used but not stored.
	transient bool
	version   int // the encoded format the index was read from
}

// Version is the format the index was encoded in: 1 indexes lack access
// times and generations.
func (ix *Index) Version() int { return ix.version }

// Volume is the index of one volume of one disk.
type Volume struct {
	Disk   string
	Name   string // "p2", "fs", "lvm/<vg>/<lv>"; "" when the disk could not be read
	FSType string // "ext4", "ntfs", "vfat", ...; "" when none
	// NoFS says the volume holds no filesystem vmarchive reads (swap, an
	// LVM physical volume, a BIOS boot partition): nothing to search.
	NoFS     bool
	Err      string   // why the volume has no entries, "" when it was walked
	Warnings []string // parts of the walk that failed (at most a few)

	n    int
	col  []byte // path column (format.go)
	recs []byte // n records (format.go)
}

// Len returns the number of entries.
func (v *Volume) Len() int { return v.n }

// Prefix is the volume's place in a guest path as in the mount: "disk0/p2"
// (a reserved disk name of an older repository escaped as there).
func (v *Volume) Prefix() string { return catalog.MountDiskName(v.Disk) + "/" + v.Name }

// Paths calls fn with each entry's index and path, in path order, until fn
// returns false. The path is valid only during the call.
func (v *Volume) Paths(fn func(i int, path []byte) bool) {
	var cur []byte
	off := 0
	for i := 0; i < v.n; i++ {
		shared, suffix, next, err := columnEntry(v.col, off, len(cur))
		if err != nil {
			return // cannot happen: Decode checked the column
		}
		cur = append(cur[:shared], suffix...)
		off = next
		if !fn(i, cur) {
			return
		}
	}
}

// Entry returns entry i with the given path (from Paths).
func (v *Volume) Entry(i int, path string) Entry {
	e := Entry{Path: path}
	decodeRecord(v.recs[i*recordLen:(i+1)*recordLen], &e)
	return e
}

// Entries decodes all entries.
func (v *Volume) Entries() []Entry {
	out := make([]Entry, 0, v.n)
	v.Paths(func(i int, p []byte) bool {
		out = append(out, v.Entry(i, string(p)))
		return true
	})
	return out
}

// Lookup finds the entry of path ("/" first) in the volume.
func (v *Volume) Lookup(path string) (Entry, bool) {
	var e Entry
	found := false
	want := []byte(path)
	v.Paths(func(i int, p []byte) bool {
		switch c := bytes.Compare(p, want); {
		case c == 0:
			e, found = v.Entry(i, path), true
			return false
		case c > 0:
			return false // sorted: not there
		}
		return true
	})
	return e, found
}

// header returns a copy of v without its entries.
func (v *Volume) header() *Volume {
	return &Volume{Disk: v.Disk, Name: v.Name, FSType: v.FSType, NoFS: v.NoFS, Err: v.Err, Warnings: v.Warnings}
}

// Volume returns the volume named disk/name.
func (ix *Index) Volume(disk, name string) *Volume {
	for _, v := range ix.Volumes {
		if v.Disk == disk && v.Name == name {
			return v
		}
	}
	return nil
}

// Split splits a guest path as shown in the mount, "disk0/p2/etc/hosts",
// into its volume and the path inside it ("/etc/hosts"; "/" for
// "disk0/p2"), using the volume names of ix.
func (ix *Index) Split(guestPath string) (*Volume, string, bool) {
	guestPath = strings.TrimSuffix(guestPath, "/")
	for _, v := range ix.Volumes {
		if v.Name == "" {
			continue
		}
		pre := v.Prefix()
		if guestPath == pre {
			return v, "/", true
		}
		if strings.HasPrefix(guestPath, pre+"/") {
			return v, guestPath[len(pre):], true
		}
	}
	return nil, "", false
}

// Cursor steps through a volume's entries in path order, so that two or
// more volumes can be merged without decoding them whole.
type Cursor struct {
	v    *Volume
	i    int // entry at cur; -1 before the first
	off  int // column offset of the next entry
	cur  []byte
	done bool
}

// Cursor returns a cursor before the first entry of v.
func (v *Volume) Cursor() *Cursor { return &Cursor{v: v, i: -1} }

// Next moves to the next entry; false at the end.
func (c *Cursor) Next() bool {
	if c.done || c.i+1 >= c.v.n {
		c.done = true
		return false
	}
	shared, suffix, next, err := columnEntry(c.v.col, c.off, len(c.cur))
	if err != nil {
		c.done = true // cannot happen: Decode checked the column
		return false
	}
	c.cur = append(c.cur[:shared], suffix...)
	c.off = next
	c.i++
	return true
}

// Path is the current entry's path, valid until Next.
func (c *Cursor) Path() []byte { return c.cur }

// Entry decodes the current entry.
func (c *Cursor) Entry() Entry { return c.v.Entry(c.i, string(c.cur)) }

// SameRecord reports whether the current entries of c and d are equal in
// every field but the path, without decoding them.
func (c *Cursor) SameRecord(d *Cursor) bool {
	return bytes.Equal(c.v.recs[c.i*recordLen:(c.i+1)*recordLen], d.v.recs[d.i*recordLen:(d.i+1)*recordLen])
}
