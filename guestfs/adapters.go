package guestfs

import (
	"github.com/vmarchive/vmarchive/ext4"
	"github.com/vmarchive/vmarchive/fat"
	"github.com/vmarchive/vmarchive/ntfs"
)

// The readers share the shape of FS but not its types; these adapters only
// convert, they do no I/O of their own.

type ext4FS struct{ fs *ext4.FS }

var (
	_ FS       = ext4FS{}
	_ Extenter = ext4FS{}
	_ FS       = ntfsFS{}
	_ Extenter = ntfsFS{}
	_ FS       = fatFS{}
	_ Extenter = fatFS{}
)

func (a ext4FS) Type() string { return "ext4" }
func (a ext4FS) Root() uint64 { return a.fs.Root() }
func (a ext4FS) Stat(ino uint64) (Attr, error) {
	x, err := a.fs.Stat(ino)
	return Attr{x.Ino, x.Mode, x.Nlink, x.Uid, x.Gid, x.Size, x.Blocks, x.Rdev, x.Atime, x.Mtime, x.Ctime, x.Crtime}, err
}
func (a ext4FS) Lookup(dir uint64, name string) (DirEntry, error) {
	e, err := a.fs.Lookup(dir, name)
	return DirEntry{e.Name, e.Ino, e.Mode}, err
}
func (a ext4FS) ReadDir(dir uint64) ([]DirEntry, error) {
	es, err := a.fs.ReadDir(dir)
	out := make([]DirEntry, len(es))
	for i, e := range es {
		out[i] = DirEntry{e.Name, e.Ino, e.Mode}
	}
	return out, err
}
func (a ext4FS) Open(ino uint64) (File, error) {
	f, err := a.fs.Open(ino)
	if err != nil {
		return nil, err
	}
	return f, nil
}
func (a ext4FS) Readlink(ino uint64) (string, error)              { return a.fs.Readlink(ino) }
func (a ext4FS) ListXattr(ino uint64) ([]string, error)           { return a.fs.ListXattr(ino) }
func (a ext4FS) GetXattr(ino uint64, name string) ([]byte, error) { return a.fs.GetXattr(ino, name) }
func (a ext4FS) Extents(ino uint64) ([]Extent, error) {
	es, err := a.fs.Extents(ino)
	out := make([]Extent, len(es))
	for i, e := range es {
		out[i] = Extent{e.Logical, e.Physical, e.Length}
	}
	return out, err
}

type ntfsFS struct{ fs *ntfs.FS }

func (a ntfsFS) Type() string { return "ntfs" }
func (a ntfsFS) Root() uint64 { return a.fs.Root() }
func (a ntfsFS) Stat(ino uint64) (Attr, error) {
	x, err := a.fs.Stat(ino)
	return Attr{x.Ino, x.Mode, x.Nlink, x.Uid, x.Gid, x.Size, x.Blocks, x.Rdev, x.Atime, x.Mtime, x.Ctime, x.Crtime}, err
}
func (a ntfsFS) Lookup(dir uint64, name string) (DirEntry, error) {
	e, err := a.fs.Lookup(dir, name)
	return DirEntry{e.Name, e.Ino, e.Mode}, err
}
func (a ntfsFS) ReadDir(dir uint64) ([]DirEntry, error) {
	es, err := a.fs.ReadDir(dir)
	out := make([]DirEntry, len(es))
	for i, e := range es {
		out[i] = DirEntry{e.Name, e.Ino, e.Mode}
	}
	return out, err
}
func (a ntfsFS) Open(ino uint64) (File, error) {
	f, err := a.fs.Open(ino)
	if err != nil {
		return nil, err
	}
	return f, nil
}
func (a ntfsFS) Readlink(ino uint64) (string, error)              { return a.fs.Readlink(ino) }
func (a ntfsFS) ListXattr(ino uint64) ([]string, error)           { return a.fs.ListXattr(ino) }
func (a ntfsFS) GetXattr(ino uint64, name string) ([]byte, error) { return a.fs.GetXattr(ino, name) }
func (a ntfsFS) Extents(ino uint64) ([]Extent, error) {
	f, err := a.fs.Open(ino)
	if err != nil {
		return nil, err
	}
	es, err := f.Extents()
	out := make([]Extent, len(es))
	for i, e := range es {
		out[i] = Extent{e.Logical, e.Physical, e.Length}
	}
	return out, err
}

type fatFS struct{ fs *fat.FS }

func (a fatFS) Type() string { return "vfat" }
func (a fatFS) Root() uint64 { return a.fs.Root() }
func (a fatFS) Stat(ino uint64) (Attr, error) {
	x, err := a.fs.Stat(ino)
	return Attr{x.Ino, x.Mode, x.Nlink, x.Uid, x.Gid, x.Size, x.Blocks, x.Rdev, x.Atime, x.Mtime, x.Ctime, x.Crtime}, err
}
func (a fatFS) Lookup(dir uint64, name string) (DirEntry, error) {
	e, err := a.fs.Lookup(dir, name)
	return DirEntry{e.Name, e.Ino, e.Mode}, err
}
func (a fatFS) ReadDir(dir uint64) ([]DirEntry, error) {
	es, err := a.fs.ReadDir(dir)
	out := make([]DirEntry, len(es))
	for i, e := range es {
		out[i] = DirEntry{e.Name, e.Ino, e.Mode}
	}
	return out, err
}
func (a fatFS) Open(ino uint64) (File, error) {
	f, err := a.fs.Open(ino)
	if err != nil {
		return nil, err
	}
	return f, nil
}
func (a fatFS) Readlink(ino uint64) (string, error)              { return a.fs.Readlink(ino) }
func (a fatFS) ListXattr(ino uint64) ([]string, error)           { return a.fs.ListXattr(ino) }
func (a fatFS) GetXattr(ino uint64, name string) ([]byte, error) { return a.fs.GetXattr(ino, name) }
func (a fatFS) Extents(ino uint64) ([]Extent, error) {
	f, err := a.fs.Open(ino)
	if err != nil {
		return nil, err
	}
	es, err := f.Extents()
	out := make([]Extent, len(es))
	for i, e := range es {
		out[i] = Extent{e.Logical, e.Physical, e.Length}
	}
	return out, err
}
