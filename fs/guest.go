package fs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/vmarchive/vmarchive/fs/tree"
	"github.com/vmarchive/vmarchive/guestfs"
)

// volume is one guest filesystem of one point's disk.
type volume struct {
	m     *mount
	fs    guestfs.FS
	key   string // identity for inode numbers
	where string // vm/point/disk/volume, for error messages
	// disk and name name the volume in a point (for .usnjrnl.csv).
	disk, name string

	mu       sync.Mutex
	logged   int             // damage notes of fs already logged (report.go); guarded by mu
	edgeDirs map[uint64]bool // directories whose listing lost entries at the edge (edge.go); guarded by mu
	edge     []string        // what they lost, at most maxEdgeNotes; guarded by mu
	files    openFiles       // guest files read lately (noopen.go); guarded by mu
	warmed   map[uint64]bool // directories read ahead (walkahead.go); guarded by mu
	report   *textRef        // the disk's volumes.txt, told when damage is found
	lastPush atomic.Int64    // when a push step last started (push.go), Unix ns
}

func (v *volume) errno(op string, gino uint64, err error) syscall.Errno {
	return v.m.errno(op, fmt.Errorf("%s inode %d: %w", v.where, gino, err))
}

// guestNode is any inode of a guest filesystem.
type guestNode struct {
	gofs.Inode
	vol  *volume
	gino uint64 // the guest's own inode number

	// listed holds a directory's entries once it has been read, so the
	// lookups that follow a readdir (READDIRPLUS, tar, rsync) do not each
	// scan a linear directory again. Points never change, so it never
	// goes stale; it goes with the node when the kernel forgets it.
	mu     sync.Mutex
	listed map[string]guestfs.DirEntry // guarded by mu
	ents   []guestfs.DirEntry          // the same in listing order (push.go); guarded by mu
	scan   dirScan                     // push.go; guarded by mu
}

var (
	_ gofs.NodeLookuper    = (*guestNode)(nil)
	_ gofs.NodeReaddirer   = (*guestNode)(nil)
	_ gofs.NodeGetattrer   = (*guestNode)(nil)
	_ gofs.NodeOpener      = (*guestNode)(nil)
	_ gofs.NodeReader      = (*guestNode)(nil)
	_ gofs.NodeFlusher     = (*guestNode)(nil)
	_ gofs.NodeReadlinker  = (*guestNode)(nil)
	_ gofs.NodeGetxattrer  = (*guestNode)(nil)
	_ gofs.NodeListxattrer = (*guestNode)(nil)
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
	if name == deletedDirName {
		if n, errno, ok := g.lookupDeleted(ctx, out); ok { // deleted.go; hidden from Readdir
			return n, errno
		}
	}
	if name == usnFileName {
		if n, errno, ok := g.lookupUSN(ctx, out); ok { // deleted.go; hidden from Readdir
			return n, errno
		}
	}
	g.mu.Lock()
	e, ok := g.listed[name]
	g.mu.Unlock()
	if !ok {
		// Not listed: not read yet, or another spelling of a name on a
		// case-insensitive filesystem; the filesystem decides.
		var err error
		e, err = g.vol.fs.Lookup(g.gino, name)
		g.vol.logDamage()
		if err != nil {
			return nil, g.vol.errno("lookup "+name, g.gino, err)
		}
	}
	child := &guestNode{vol: g.vol, gino: e.Ino}
	if errno := entryOut(ctx, child, out, frozenTimeout); errno != 0 {
		return nil, errno
	}
	return g.NewInode(ctx, child, gofs.StableAttr{Mode: out.Attr.Mode & syscall.S_IFMT, Ino: out.Attr.Ino}), 0
}

func (g *guestNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ents, err := g.vol.fs.ReadDir(g.gino)
	g.vol.logDamage()
	if err != nil {
		return nil, g.vol.errno("readdir", g.gino, err)
	}
	ents, bad := tree.CleanEntries(ents)
	if len(bad) > 0 {
		g.vol.noteEdge(g.gino, bad)
	}
	out := make([]fuse.DirEntry, len(ents))
	listed := make(map[string]guestfs.DirEntry, len(ents))
	for i, e := range ents {
		out[i] = fuse.DirEntry{Name: e.Name, Mode: e.Mode & syscall.S_IFMT, Ino: guestIno(g.vol.key, e.Ino)}
		listed[e.Name] = e
	}
	g.mu.Lock()
	g.listed, g.ents = listed, ents
	g.mu.Unlock()
	g.vol.statAhead(ents) // READDIRPLUS looks each up next (walkahead.go)
	return gofs.NewListDirStream(out), 0
}

func (g *guestNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	return noOpen(flags)
}

func (g *guestNode) Flush(ctx context.Context, fh gofs.FileHandle) syscall.Errno {
	return syscall.ENOSYS // noopen.go
}

// Read opens the guest file on the volume's small cache of open files:
// without OPEN requests (noopen.go) a read is all the kernel sends.
func (g *guestNode) Read(ctx context.Context, fh gofs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	f, err := g.vol.open(g.gino)
	if err != nil {
		return nil, g.vol.errno("open", g.gino, err)
	}
	if off == 0 && f.Size() <= pushFileMax { // a walk of small files (push.go)
		g.pushSiblings()
	}
	return readAt(g.vol.m, f, f.Size(), dest, off)
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

var (
	_ gofs.NodeOpendirHandler = (*guestNode)(nil)
	_ gofs.NodeOpendirHandler = (*listDir)(nil)
)

// OpendirHandle lets the kernel cache the listing: a point never changes.
// The listing is built only if the kernel asks for it.
func (g *guestNode) OpendirHandle(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	return &lazyDir{open: g.Readdir}, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
}

// OpendirHandle lets the kernel cache the listing: a point never changes.
func (d *listDir) OpendirHandle(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	return &lazyDir{open: d.Readdir}, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
}

// lazyDir is an open directory whose listing is built on the first read;
// with the listing in the kernel's cache, an open costs nothing.
type lazyDir struct {
	open func(context.Context) (gofs.DirStream, syscall.Errno)
	ds   gofs.DirStream // set on first use; the kernel serialises a handle's reads
}

var (
	_ gofs.FileReaddirenter = (*lazyDir)(nil)
	_ gofs.FileSeekdirer    = (*lazyDir)(nil)
	_ gofs.FileReleasedirer = (*lazyDir)(nil)
)

func (d *lazyDir) stream(ctx context.Context) syscall.Errno {
	if d.ds != nil {
		return 0
	}
	ds, errno := d.open(ctx)
	d.ds = ds
	return errno
}

func (d *lazyDir) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	if errno := d.stream(ctx); errno != 0 {
		return nil, errno
	}
	if !d.ds.HasNext() {
		return nil, 0
	}
	e, errno := d.ds.Next()
	return &e, errno
}

func (d *lazyDir) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if errno := d.stream(ctx); errno != 0 {
		return errno
	}
	if sd, ok := d.ds.(gofs.FileSeekdirer); ok {
		return sd.Seekdir(ctx, off)
	}
	return syscall.ENOTSUP
}

func (d *lazyDir) Releasedir(ctx context.Context, flags uint32) {
	if d.ds != nil {
		d.ds.Close()
	}
}
