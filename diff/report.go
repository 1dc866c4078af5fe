// Package diff compares two points of one VM: the changed byte ranges of
// each disk (from the chunk maps, reading only chunks that differ), the
// files added, removed, modified, renamed or changed in metadata on each
// guest filesystem, and what owns each changed block in either point.
// AffectedFiles names the guest files in damaged or missing chunks, for
// check.
//
// Guest trees are walked only through guestfs (Walk, or a Guard per side
// where the two trees are compared in step), which lists each directory
// once and bounds depth and entries: a cycle a guest administrator made is
// a "!" line with its subtree left out, never unbounded memory.
package diff

import (
	"time"
)

// Status says how a path differs between the two points.
type Status string

// The statuses follow git diff --name-status where git has a letter.
const (
	Added        Status = "A" // only in B
	Deleted      Status = "D" // only in A
	Modified     Status = "M" // content differs (metadata may differ too)
	MetadataOnly Status = "m" // same content; mode, owner, times, xattrs or streams differ
	TypeChanged  Status = "T" // a file became a directory, a symlink, ...
	Renamed      Status = "R" // same inode (or MFT record) under another path
	// Unknown: the content of a file in both points could not be read
	// (Change.Err says why) and nothing else shows it changed.
	Unknown Status = "?"
)

// Report is the comparison of point A with point B of one VM.
type Report struct {
	VM    string  `json:"vm"`
	A     string  `json:"a"` // point names
	B     string  `json:"b"`
	Disks []*Disk `json:"disks"`
	// Warnings are problems worked around at some cost (a stored file
	// index that could not be used), each naming the point.
	Warnings []string `json:"warnings,omitempty"`
	// Errors lists what could not be compared, each naming where
	// ("disk0", "disk0/p2", "disk0/p2/etc/hosts"); the rest of the report
	// holds everything that was. Empty when the comparison is complete.
	Errors []string `json:"errors,omitempty"`
}

// Complete reports whether everything could be compared.
func (r *Report) Complete() bool { return len(r.Errors) == 0 }

// Equal reports whether nothing at all differs. An incomplete report is
// not equal.
func (r *Report) Equal() bool {
	if !r.Complete() {
		return false
	}
	for _, d := range r.Disks {
		if d.Status != "" || len(d.Ranges) > 0 || len(d.Errors) > 0 {
			return false
		}
		for _, v := range d.Volumes {
			if len(v.Changes) > 0 || v.Err != "" || len(v.Errors) > 0 {
				return false
			}
		}
	}
	return true
}

// Disk is the comparison of one disk.
type Disk struct {
	Name string `json:"name"`
	// Status is Added or Deleted for a disk in one point only, else "".
	Status Status `json:"status,omitempty"`
	SizeA  int64  `json:"size_a"`
	SizeB  int64  `json:"size_b"`
	// Granularity is the size of the units Ranges are made of: the chunk
	// size (format 1), 4096 (format 2, whose chunks are of any multiple of
	// it), or the refined block size.
	Granularity int64 `json:"granularity"`
	// Refined says Ranges were narrowed to changed blocks (Options.Blocks);
	// otherwise each is whole chunks, which in format 2 differ in length.
	Refined      bool     `json:"refined"`
	ChangedBytes int64    `json:"changed_bytes"`
	Ranges       []Range  `json:"ranges"`
	Volumes      []Volume `json:"volumes"`
	// Errors say what of the disk could not be compared (a chunk map or
	// a changed chunk unreadable, the partition table unreadable).
	Errors []string `json:"errors,omitempty"`
}

// Range is a changed run of disk bytes.
type Range struct {
	Off int64 `json:"off"`
	Len int64 `json:"len"`
	// Volume holds the range ("p2", "lvm/vg/root"); "" outside every
	// volume (partition table, gaps).
	Volume string `json:"volume,omitempty"`
	// Owners in each point, when block owners were asked for.
	A []Owner `json:"a,omitempty"`
	B []Owner `json:"b,omitempty"`
}

// OwnerKind is what a block belongs to.
type OwnerKind string

// The owner kinds.
const (
	OwnerFile        OwnerKind = "file"        // file data (or a directory's blocks)
	OwnerMetadata    OwnerKind = "metadata"    // filesystem structures
	OwnerUnallocated OwnerKind = "unallocated" // free space
	OwnerTable       OwnerKind = "table"       // partition table or space outside volumes
	OwnerUnknown     OwnerKind = "unknown"     // cannot tell; Owner.Note says why
)

// Owner is one owner of part of a Range.
type Owner struct {
	Kind OwnerKind `json:"kind"`
	Path string    `json:"path,omitempty"` // file path in the volume, for OwnerFile
	Off  int64     `json:"off"`            // disk offset of the owned part
	Len  int64     `json:"len"`
	// Note says why an owner is unknown, or that a file's blocks could
	// be mapped only in part.
	Note string `json:"note,omitempty"`
}

// Volume lists the file-level changes of one volume.
type Volume struct {
	Name string `json:"name"` // "p2", "fs", "lvm/vg/lv"
	Type string `json:"type"` // filesystem type, from B when it has one
	// Err says what of the volume could not be compared: all of it (a
	// damaged filesystem: Changes are then missing) or the owners of some
	// blocks.
	Err string `json:"error,omitempty"`
	// Errors are the paths that could not be read in one point (a
	// damaged directory or inode), in path order; nothing below them is
	// in Changes, the rest of the volume is. A directory whose reader
	// left damaged entries out is here too: its names in both points are
	// still compared, but a name the other point alone has is not called
	// added or deleted (it may be the damaged one).
	Errors  []PathError `json:"errors,omitempty"`
	Changes []Change    `json:"changes"`
}

// PathError is a path of a volume that could not be read in one point.
type PathError struct {
	Path string `json:"path"`
	Side string `json:"side"`  // "a" or "b"
	Err  string `json:"error"` // names the point
}

// Change is one path that differs.
type Change struct {
	Status Status   `json:"status"`
	Path   string   `json:"path"`             // in B (in A for Deleted), "/" first
	From   string   `json:"from,omitempty"`   // the path in A, for Renamed
	Fields []string `json:"fields,omitempty"` // what differs: content, size, mode, uid, gid, mtime, crtime, target, rdev, xattr:NAME
	A      *Entry   `json:"a,omitempty"`
	B      *Entry   `json:"b,omitempty"`
	// Err says what of the path could not be read (its content, for a
	// missing SHA-256).
	Err string `json:"error,omitempty"`
}

// Entry is one version of a path.
type Entry struct {
	Ino    uint64    `json:"ino"`
	Type   string    `json:"type"` // file, dir, symlink, char, block, fifo, socket
	Mode   uint32    `json:"mode"` // st_mode
	Uid    uint32    `json:"uid"`
	Gid    uint32    `json:"gid"`
	Size   int64     `json:"size"`
	Mtime  time.Time `json:"mtime"`
	Ctime  time.Time `json:"ctime"`
	Atime  time.Time `json:"atime"`
	Crtime time.Time `json:"crtime,omitzero"`
	SHA256 string    `json:"sha256,omitempty"` // of a regular file's content
	Target string    `json:"target,omitempty"` // of a symlink
}
