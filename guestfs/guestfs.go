// Package guestfs gives one read-only filesystem interface over the guest
// filesystems vmarchive understands (ext2/3/4, NTFS, FAT, XFS), and finds the
// volumes of a disk (partitions, LVM logical volumes, or the whole disk).
//
// The FUSE tree, the forensic diff and the file index all go through it, so
// each filesystem is detected in one place only. Walk (or, for walks of two
// trees in step, a Guard) is the one way to walk a guest tree: it bounds
// depth and entries and lists each directory once, so that a cycle a guest
// administrator made costs its subtree, never the process.
package guestfs

import (
	"io"
	"time"
)

// Attr is what stat(2) reports for one guest inode.
type Attr struct {
	Ino uint64
	// Gen changes when the inode number is reused for another file (ext4
	// i_generation, the NTFS MFT record's sequence number); 0 when unknown.
	Gen    uint64
	Mode   uint32 // st_mode, including the S_IFMT type bits
	Nlink  uint32
	Uid    uint32
	Gid    uint32
	Size   int64
	Blocks int64  // 512-byte units
	Rdev   uint64 // device number of a device node, Linux encoding
	Atime  time.Time
	Mtime  time.Time
	Ctime  time.Time
	Crtime time.Time // zero when the filesystem does not record it
}

// DirEntry is one name in a directory.
type DirEntry struct {
	Name string
	Ino  uint64
	Mode uint32 // at least the S_IFMT type bits
}

// Extent maps a run of a file's bytes to bytes of its volume.
type Extent struct {
	Logical  int64 // offset in the file
	Physical int64 // offset in the volume
	Length   int64
}

// File is an open guest file. ReadAt is safe for concurrent use.
type File interface {
	io.ReaderAt
	Size() int64
}

// FS is a read-only guest filesystem addressed by stable inode numbers.
// Missing names yield errors wrapping io/fs.ErrNotExist.
type FS interface {
	Type() string // "ext4", "ntfs", "vfat", ...
	Root() uint64
	Stat(ino uint64) (Attr, error)
	Lookup(dir uint64, name string) (DirEntry, error)
	ReadDir(dir uint64) ([]DirEntry, error)
	Open(ino uint64) (File, error)
	Readlink(ino uint64) (string, error)
	ListXattr(ino uint64) ([]string, error)
	GetXattr(ino uint64, name string) ([]byte, error)
}

// Damager is implemented by filesystems that skip a damaged part, such as
// a directory entry with an impossible name or inode number, and read the
// rest. Damage lists what was skipped so far, each once, in the order found.
type Damager interface {
	Damage() []string
}

// DirDamager is implemented by filesystems that can say which directory a
// damaged entry was left out of. A walk that compares or indexes trees
// must not take such a directory's listing as complete.
type DirDamager interface {
	// DirDamaged reports whether reading dir (after its ReadDir) left out
	// a damaged entry.
	DirDamaged(dir uint64) bool
}

// DirDamaged reports whether fs says reading dir left out a damaged entry.
func DirDamaged(fs FS, dir uint64) bool {
	d, ok := fs.(DirDamager)
	return ok && d.DirDamaged(dir)
}

// Warner is implemented by filesystems that read a volume in a state
// worth saying, such as an XFS log that was not replayed.
type Warner interface {
	Warnings() []string
}

// Extenter is implemented by filesystems that can map a file to volume bytes.
type Extenter interface {
	Extents(ino uint64) ([]Extent, error)
}

// RegionKind says what a byte range of a volume holds.
type RegionKind uint8

// The region kinds. Space no region covers is free.
const (
	RegionMeta RegionKind = iota + 1 // static filesystem structures
	RegionUsed                       // allocated: file data, directories, other metadata
)

// Region is a byte range of a volume.
type Region struct {
	Off, Len int64
	Kind     RegionKind
}

// Blocker is implemented by filesystems that allocate in fixed units.
type Blocker interface {
	BlockSize() int64
}

// Allocator is implemented by filesystems that can tell used space from
// free space. Allocation lists used regions in volume order; the adapters
// return an error wrapping errors.ErrUnsupported when they cannot.
type Allocator interface {
	Allocation() ([]Region, error)
}
