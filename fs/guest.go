package fs

import (
	"context"
	"fmt"
	"strings"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/vmarchive/vmarchive/guestfs"
)

// volume is one guest filesystem of one point's disk.
type volume struct {
	m     *mount
	fs    guestfs.FS
	key   string // identity for inode numbers
	where string // vm/point/disk/volume, for error messages
}

func (v *volume) errno(op string, gino uint64, err error) syscall.Errno {
	return v.m.errno(op, fmt.Errorf("%s inode %d: %w", v.where, gino, err))
}

// guestNode is any inode of a guest filesystem.
type guestNode struct {
	gofs.Inode
	vol  *volume
	gino uint64 // the guest's own inode number
}

var (
	_ gofs.NodeLookuper    = (*guestNode)(nil)
	_ gofs.NodeReaddirer   = (*guestNode)(nil)
	_ gofs.NodeGetattrer   = (*guestNode)(nil)
	_ gofs.NodeOpener      = (*guestNode)(nil)
	_ gofs.NodeReadlinker  = (*guestNode)(nil)
	_ gofs.NodeGetxattrer  = (*guestNode)(nil)
	_ gofs.NodeListxattrer = (*guestNode)(nil)
	_ gofs.FileReader      = (*guestFile)(nil)
)

func (g *guestNode) attr(ctx context.Context, out *fuse.Attr) syscall.Errno {
	a, err := g.vol.fs.Stat(g.gino)
	if err != nil {
		return g.vol.errno("stat", g.gino, err)
	}
	out.Ino = guestIno(g.vol.key, g.gino)
	out.Mode = a.Mode
	out.Nlink = a.Nlink
	out.Owner = fuse.Owner{Uid: a.Uid, Gid: a.Gid}
	out.Size = uint64(a.Size)
	out.Blocks = uint64(a.Blocks)
	out.Rdev = uint32(a.Rdev)
	out.Blksize = 4096
	out.SetTimes(&a.Atime, &a.Mtime, &a.Ctime)
	return 0
}

func (g *guestNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return g.attr(ctx, &out.Attr)
}

func (g *guestNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	e, err := g.vol.fs.Lookup(g.gino, name)
	if err != nil {
		return nil, g.vol.errno("lookup "+name, g.gino, err)
	}
	child := &guestNode{vol: g.vol, gino: e.Ino}
	if errno := entryOut(ctx, child, out, frozenTimeout); errno != 0 {
		return nil, errno
	}
	return g.NewInode(ctx, child, gofs.StableAttr{Mode: out.Attr.Mode & syscall.S_IFMT, Ino: out.Attr.Ino}), 0
}

func (g *guestNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ents, err := g.vol.fs.ReadDir(g.gino)
	if err != nil {
		return nil, g.vol.errno("readdir", g.gino, err)
	}
	out := make([]fuse.DirEntry, len(ents))
	for i, e := range ents {
		out[i] = fuse.DirEntry{Name: e.Name, Mode: e.Mode & syscall.S_IFMT, Ino: guestIno(g.vol.key, e.Ino)}
	}
	return gofs.NewListDirStream(out), 0
}

// guestFile is an open guest file.
type guestFile struct {
	vol  *volume
	gino uint64
	f    guestfs.File
}

func (g *guestNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR) != 0 {
		return nil, 0, syscall.EROFS
	}
	f, err := g.vol.fs.Open(g.gino)
	if err != nil {
		return nil, 0, g.vol.errno("open", g.gino, err)
	}
	return &guestFile{vol: g.vol, gino: g.gino, f: f}, fuse.FOPEN_KEEP_CACHE, 0
}

func (h *guestFile) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	return readAt(h.vol.m, h.f, h.f.Size(), dest, off)
}

func (g *guestNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	t, err := g.vol.fs.Readlink(g.gino)
	if err != nil {
		return nil, g.vol.errno("readlink", g.gino, err)
	}
	return []byte(t), 0
}

func (g *guestNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	v, err := g.vol.fs.GetXattr(g.gino, attr)
	if err != nil {
		return 0, g.vol.m.xattrErrno("getxattr", fmt.Errorf("%s inode %d %s: %w", g.vol.where, g.gino, attr, err))
	}
	if len(dest) < len(v) {
		return uint32(len(v)), syscall.ERANGE
	}
	return uint32(copy(dest, v)), 0
}

func (g *guestNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	names, err := g.vol.fs.ListXattr(g.gino)
	if err != nil {
		return 0, g.vol.errno("listxattr", g.gino, err)
	}
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte(0)
	}
	if len(dest) < b.Len() {
		return uint32(b.Len()), syscall.ERANGE
	}
	return uint32(copy(dest, b.String())), 0
}
