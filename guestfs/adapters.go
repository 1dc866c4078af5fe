package guestfs

import (
	"errors"
	"fmt"
	"io"

	"github.com/vmarchive/vmarchive/ext4"
	"github.com/vmarchive/vmarchive/fat"
	"github.com/vmarchive/vmarchive/ntfs"
	"github.com/vmarchive/vmarchive/xfs"
)

// The readers share the shape of FS but not its types (they import nothing
// from the project); adapter converts, and does no I/O of its own.

// reader is the method set the ext4, ntfs and fat packages have in common.
type reader[A, D any, F file[E], E any] interface {
	Root() uint64
	Stat(ino uint64) (A, error)
	Lookup(dir uint64, name string) (D, error)
	ReadDir(dir uint64) ([]D, error)
	Open(ino uint64) (F, error)
	Readlink(ino uint64) (string, error)
	ListXattr(ino uint64) ([]string, error)
	GetXattr(ino uint64, name string) ([]byte, error)
}

type file[E any] interface {
	io.ReaderAt
	Size() int64
	Extents() ([]E, error)
}

type adapter[A, D any, F file[E], E any] struct {
	fs     reader[A, D, F, E]
	typ    string
	attr   func(A) Attr
	dirent func(D) DirEntry
	extent func(E) Extent
	alloc  func() ([]Region, error) // nil when the reader cannot tell
	block  int64                    // allocation unit in bytes
	// damage lists what the reader skipped as damaged; nil when it
	// skips nothing (it fails instead).
	damage func() []string
	// dirDamaged tells whether a directory lost entries to damage; nil
	// with damage.
	dirDamaged func(dir uint64) bool
	// dirExtents maps a directory's blocks when Open cannot (NTFS).
	dirExtents func(ino uint64) ([]E, error)
	// warnings are conditions of the volume that do not stop reading
	// (an XFS log that was not replayed); nil when there are none.
	warnings func() []string
	// firstByte identifies a directory by where its bytes start, when
	// inode numbers name entries rather than directories (FAT).
	firstByte bool
	// deleted lists deleted files and openDeleted reads one (deleted.go);
	// nil when the reader cannot.
	deleted     func() ([]Deleted, error)
	openDeleted func(ino uint64) (File, error)
	// usn walks the change journal (usn.go); nil when there is none.
	usn func(fn func(USNRecord) error) error
}

// DirID identifies a directory: its inode number, or on FAT the volume
// offset of its first cluster (the root's area for FAT12/16). An empty
// FAT directory has no cluster, and keeps its inode number with the top
// bit set, which no offset has.
func (a adapter[A, D, F, E]) DirID(ino uint64) (uint64, error) {
	if !a.firstByte {
		return ino, nil
	}
	es, err := a.Extents(ino)
	if err != nil {
		return 0, fmt.Errorf("%s: directory inode %d: %w", a.typ, ino, err)
	}
	if len(es) == 0 {
		return ino | 1<<63, nil
	}
	return uint64(es[0].Physical), nil
}

// Damage lists the damaged parts the reader skipped so far.
func (a adapter[A, D, F, E]) Damage() []string {
	if a.damage == nil {
		return nil
	}
	return a.damage()
}

// DirDamaged reports whether reading directory dir left out a damaged entry.
func (a adapter[A, D, F, E]) DirDamaged(dir uint64) bool {
	return a.dirDamaged != nil && a.dirDamaged(dir)
}

// Warnings lists conditions of the volume that do not stop reading.
func (a adapter[A, D, F, E]) Warnings() []string {
	if a.warnings == nil {
		return nil
	}
	return a.warnings()
}

// BlockSize is the filesystem's allocation unit (block or cluster).
func (a adapter[A, D, F, E]) BlockSize() int64 { return a.block }

func (a adapter[A, D, F, E]) Type() string { return a.typ }
func (a adapter[A, D, F, E]) Root() uint64 { return a.fs.Root() }

func (a adapter[A, D, F, E]) Stat(ino uint64) (Attr, error) {
	x, err := a.fs.Stat(ino)
	return a.attr(x), err
}

func (a adapter[A, D, F, E]) Lookup(dir uint64, name string) (DirEntry, error) {
	e, err := a.fs.Lookup(dir, name)
	return a.dirent(e), err
}

func (a adapter[A, D, F, E]) ReadDir(dir uint64) ([]DirEntry, error) {
	es, err := a.fs.ReadDir(dir)
	out := make([]DirEntry, len(es))
	for i, e := range es {
		out[i] = a.dirent(e)
	}
	return out, err
}

func (a adapter[A, D, F, E]) Open(ino uint64) (File, error) {
	f, err := a.fs.Open(ino)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (a adapter[A, D, F, E]) Readlink(ino uint64) (string, error)    { return a.fs.Readlink(ino) }
func (a adapter[A, D, F, E]) ListXattr(ino uint64) ([]string, error) { return a.fs.ListXattr(ino) }
func (a adapter[A, D, F, E]) GetXattr(ino uint64, name string) ([]byte, error) {
	return a.fs.GetXattr(ino, name)
}

func (a adapter[A, D, F, E]) Extents(ino uint64) ([]Extent, error) {
	f, err := a.fs.Open(ino)
	var es []E
	switch {
	case err != nil && a.dirExtents != nil:
		if es, err = a.dirExtents(ino); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		es, err = f.Extents()
	}
	out := make([]Extent, len(es))
	for i, e := range es {
		out[i] = a.extent(e)
	}
	return out, err
}

// Deleted lists the deleted regular files the reader finds.
func (a adapter[A, D, F, E]) Deleted() ([]Deleted, error) {
	if a.deleted == nil {
		return nil, fmt.Errorf("%s: deleted files: %w", a.typ, errors.ErrUnsupported)
	}
	return a.deleted()
}

// OpenDeleted reads a recoverable deleted file.
func (a adapter[A, D, F, E]) OpenDeleted(ino uint64) (File, error) {
	if a.openDeleted == nil {
		return nil, fmt.Errorf("%s: deleted files: %w", a.typ, errors.ErrUnsupported)
	}
	return a.openDeleted(ino)
}

// USNJournal walks the filesystem's change journal.
func (a adapter[A, D, F, E]) USNJournal(fn func(USNRecord) error) error {
	if a.usn == nil {
		return fmt.Errorf("%s: change journal: %w", a.typ, errors.ErrUnsupported)
	}
	return a.usn(fn)
}

func (a adapter[A, D, F, E]) Allocation() ([]Region, error) {
	if a.alloc == nil {
		return nil, fmt.Errorf("%s: allocation map: %w", a.typ, errors.ErrUnsupported)
	}
	return a.alloc()
}

var (
	_ Allocator    = newExt4(nil)
	_ FS           = newExt4(nil)
	_ Extenter     = newExt4(nil)
	_ Damager      = newExt4(nil)
	_ DirDamager   = newExt4(nil)
	_ Undeleter    = newExt4(nil)
	_ FS           = newNTFS(nil)
	_ Damager      = newNTFS(nil)
	_ DirDamager   = newNTFS(nil)
	_ Undeleter    = newNTFS(nil)
	_ USNJournaler = newNTFS(nil)
	_ FS           = newFAT(nil)
	_ DirIDer      = newFAT(nil)
	_ FS           = newXFS(nil)
	_ Extenter     = newXFS(nil)
	_ Warner       = newXFS(nil)
	_ Allocator    = newXFS(nil)
	_ Damager      = newXFS(nil)
	_ DirDamager   = newXFS(nil)
)

func newExt4(fs *ext4.FS) adapter[ext4.Attr, ext4.DirEntry, *ext4.File, ext4.Extent] {
	typ := "ext4"
	var info ext4.VolumeInfo
	if fs != nil {
		info = fs.Info()
		typ = info.Type // ext2, ext3 or ext4, as blkid says
	}
	alloc := func() ([]Region, error) {
		rs, err := fs.Allocation()
		var out []Region
		for _, r := range rs {
			switch r.Kind {
			case ext4.Metadata:
				out = append(out, Region{r.Start, r.Length, RegionMeta})
			case ext4.Allocated:
				out = append(out, Region{r.Start, r.Length, RegionUsed})
			}
		}
		return out, err
	}
	attr := func(x ext4.Attr) Attr {
		return Attr{x.Ino, uint64(x.Generation), x.Mode, x.Nlink, x.Uid, x.Gid, x.Size, x.Blocks, x.Rdev, x.Atime, x.Mtime, x.Ctime, x.Crtime}
	}
	return adapter[ext4.Attr, ext4.DirEntry, *ext4.File, ext4.Extent]{
		fs: fs, typ: typ, alloc: alloc, block: int64(info.BlockSize), damage: fs.Damage, dirDamaged: fs.DirDamaged,
		attr:        attr,
		deleted:     func() ([]Deleted, error) { return ext4Deleted(fs, attr) },
		openDeleted: func(ino uint64) (File, error) { return fileOrNil(fs.OpenDeleted(ino)) },
		dirent:      func(e ext4.DirEntry) DirEntry { return DirEntry{e.Name, e.Ino, e.Mode} },
		extent:      func(e ext4.Extent) Extent { return Extent{e.Logical, e.Physical, e.Length} },
	}
}

func newNTFS(fs *ntfs.FS) adapter[ntfs.Attr, ntfs.DirEntry, *ntfs.File, ntfs.Extent] {
	alloc := func() ([]Region, error) {
		rs, err := fs.Allocation()
		out := make([]Region, len(rs))
		for i, r := range rs {
			out[i] = Region{r.Offset, r.Length, RegionUsed}
		}
		return out, err
	}
	var info ntfs.VolumeInfo
	if fs != nil {
		info = fs.Info()
	}
	attr := func(x ntfs.Attr) Attr {
		return Attr{x.Ino, uint64(x.Seq), x.Mode, x.Nlink, x.Uid, x.Gid, x.Size, x.Blocks, x.Rdev, x.Atime, x.Mtime, x.Ctime, x.Crtime}
	}
	return adapter[ntfs.Attr, ntfs.DirEntry, *ntfs.File, ntfs.Extent]{
		fs: fs, typ: "ntfs", alloc: alloc, block: info.ClusterSize, dirExtents: fs.IndexExtents,
		damage: fs.Damage, dirDamaged: fs.DirDamaged,
		attr:        attr,
		deleted:     func() ([]Deleted, error) { return ntfsDeleted(fs, attr) },
		openDeleted: func(ino uint64) (File, error) { return fileOrNil(fs.OpenDeleted(ino)) },
		usn:         func(fn func(USNRecord) error) error { return ntfsUSN(fs, fn) },
		dirent:      func(e ntfs.DirEntry) DirEntry { return DirEntry{e.Name, e.Ino, e.Mode} },
		extent:      func(e ntfs.Extent) Extent { return Extent{e.Logical, e.Physical, e.Length} },
	}
}

func newFAT(fs *fat.FS) adapter[fat.Attr, fat.DirEntry, *fat.File, fat.Extent] {
	alloc := func() ([]Region, error) {
		rs, err := fs.Allocated()
		out := make([]Region, len(rs))
		for i, r := range rs {
			k := RegionUsed
			if r.Kind == fat.RegionMeta {
				k = RegionMeta
			}
			out[i] = Region{r.Offset, r.Length, k}
		}
		return out, err
	}
	var info fat.VolumeInfo
	if fs != nil {
		info = fs.Info()
	}
	return adapter[fat.Attr, fat.DirEntry, *fat.File, fat.Extent]{
		fs: fs, typ: "vfat", alloc: alloc, block: info.ClusterSize, firstByte: true,
		attr: func(x fat.Attr) Attr {
			return Attr{x.Ino, 0, x.Mode, x.Nlink, x.Uid, x.Gid, x.Size, x.Blocks, x.Rdev, x.Atime, x.Mtime, x.Ctime, x.Crtime}
		},
		dirent: func(e fat.DirEntry) DirEntry { return DirEntry{e.Name, e.Ino, e.Mode} },
		extent: func(e fat.Extent) Extent { return Extent{e.Logical, e.Physical, e.Length} },
	}
}

func newXFS(fs *xfs.FS) adapter[xfs.Attr, xfs.DirEntry, *xfs.File, xfs.Extent] {
	var info xfs.VolumeInfo
	if fs != nil {
		info = fs.Info()
	}
	alloc := func() ([]Region, error) {
		rs, err := fs.Allocation()
		out := make([]Region, len(rs))
		for i, r := range rs {
			out[i] = Region{r.Off, r.Len, RegionUsed}
		}
		return out, err
	}
	return adapter[xfs.Attr, xfs.DirEntry, *xfs.File, xfs.Extent]{
		fs: fs, typ: "xfs", block: int64(info.BlockSize), alloc: alloc,
		damage: fs.Damage, dirDamaged: fs.DirDamaged,
		warnings: func() []string { return info.Warnings },
		attr: func(x xfs.Attr) Attr {
			return Attr{x.Ino, uint64(x.Generation), x.Mode, x.Nlink, x.Uid, x.Gid, x.Size, x.Blocks, x.Rdev, x.Atime, x.Mtime, x.Ctime, x.Crtime}
		},
		dirent: func(e xfs.DirEntry) DirEntry { return DirEntry{e.Name, e.Ino, e.Mode} },
		extent: func(e xfs.Extent) Extent { return Extent{e.Logical, e.Physical, e.Length} },
	}
}
