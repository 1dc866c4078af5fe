package fs

import (
	"context"
	"slices"
	"sort"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/vmarchive/vmarchive/catalog"
)

// attrer is implemented by every node: it fills its attributes.
type attrer interface {
	attr(ctx context.Context, out *fuse.Attr) syscall.Errno
}

// entryOut fills a lookup reply from the child's attributes.
func entryOut(ctx context.Context, n attrer, out *fuse.EntryOut, timeout time.Duration) syscall.Errno {
	if errno := n.attr(ctx, &out.Attr); errno != 0 {
		return errno
	}
	out.SetEntryTimeout(timeout)
	out.SetAttrTimeout(timeout)
	return 0
}

func (m *mount) dirAttr(out *fuse.Attr, ino uint64, t time.Time) {
	out.Ino = ino
	out.Mode = syscall.S_IFDIR | publicDir
	out.Nlink = 2
	out.Owner = fuse.Owner{Uid: m.uid, Gid: m.gid}
	out.SetTimes(&t, &t, &t)
	out.Blksize = 4096
}

// rootNode lists the VMs, read from the catalog each time.
type rootNode struct {
	gofs.Inode
	m *mount
}

var (
	_ gofs.NodeLookuper  = (*rootNode)(nil)
	_ gofs.NodeReaddirer = (*rootNode)(nil)
	_ gofs.NodeGetattrer = (*rootNode)(nil)
)

func (r *rootNode) attr(ctx context.Context, out *fuse.Attr) syscall.Errno {
	r.m.dirAttr(out, 1, r.m.started)
	return 0
}

func (r *rootNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.SetTimeout(liveTimeout)
	return r.attr(ctx, &out.Attr)
}

func (r *rootNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	times, err := r.m.archive.PointTimes(name)
	if err != nil {
		return nil, r.m.errno("lookup VM "+name, err)
	}
	if len(times) == 0 {
		return nil, syscall.ENOENT
	}
	n := &vmNode{m: r.m, vm: name}
	if errno := entryOut(ctx, n, out, liveTimeout); errno != 0 {
		return nil, errno
	}
	return r.NewInode(ctx, n, gofs.StableAttr{Mode: syscall.S_IFDIR, Ino: inoOf("vm", name)}), 0
}

func (r *rootNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	vms, err := r.m.archive.VMs()
	if err != nil {
		return nil, r.m.errno("list VMs", err)
	}
	ents := make([]fuse.DirEntry, len(vms))
	for i, vm := range vms {
		ents[i] = fuse.DirEntry{Name: vm, Mode: syscall.S_IFDIR, Ino: inoOf("vm", vm)}
	}
	return gofs.NewListDirStream(ents), 0
}

// vmNode lists a VM's points and its latest link.
type vmNode struct {
	gofs.Inode
	m  *mount
	vm string
}

var (
	_ gofs.NodeLookuper       = (*vmNode)(nil)
	_ gofs.NodeOpendirHandler = (*vmNode)(nil)
	_ gofs.NodeGetattrer      = (*vmNode)(nil)
)

func (v *vmNode) attr(ctx context.Context, out *fuse.Attr) syscall.Errno {
	t := v.m.started
	if times, err := v.m.archive.PointTimes(v.vm); err == nil && len(times) > 0 {
		t = times[len(times)-1]
	}
	v.m.dirAttr(out, inoOf("vm", v.vm), t)
	return 0
}

func (v *vmNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.SetTimeout(liveTimeout)
	return v.attr(ctx, &out.Attr)
}

func (v *vmNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if name == compareDirName {
		return v.lookupCompare(ctx, out) // compare.go; hidden from Readdir
	}
	if name == catalog.Latest {
		n := &latestNode{m: v.m, vm: v.vm}
		if errno := entryOut(ctx, n, out, liveTimeout); errno != 0 {
			return nil, errno
		}
		return v.NewInode(ctx, n, gofs.StableAttr{Mode: syscall.S_IFLNK, Ino: inoOf("latest", v.vm)}), 0
	}
	t, err := catalog.ParsePointTime(name)
	if err != nil || catalog.FormatPointTime(t) != name {
		return nil, syscall.ENOENT
	}
	times, err := v.m.archive.PointTimes(v.vm)
	if err != nil {
		return nil, v.m.errno("lookup point "+v.vm+"/"+name, err)
	}
	if _, ok := slices.BinarySearchFunc(times, t, time.Time.Compare); !ok {
		return nil, syscall.ENOENT
	}
	n := newPointNode(v.m, v.vm, t)
	if errno := entryOut(ctx, n, out, frozenTimeout); errno != 0 {
		return nil, errno
	}
	return v.NewInode(ctx, n, gofs.StableAttr{Mode: syscall.S_IFDIR, Ino: n.ino}), 0
}

// OpendirHandle lists the points from the catalog's keys; its READDIRPLUS
// replies name them without looking each up (namesOnly).
func (v *vmNode) OpendirHandle(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	times, err := v.m.archive.PointTimes(v.vm)
	if err != nil {
		return nil, 0, v.m.errno("list points of "+v.vm, err)
	}
	ents := make([]fuse.DirEntry, 0, 1+len(times))
	ents = append(ents, fuse.DirEntry{Name: catalog.Latest, Mode: syscall.S_IFLNK, Ino: inoOf("latest", v.vm)})
	for _, t := range times {
		name := catalog.FormatPointTime(t)
		ents = append(ents, fuse.DirEntry{Name: name, Mode: syscall.S_IFDIR, Ino: inoOf("point", v.vm, name)})
	}
	return &namesOnly{ents: ents}, 0, 0
}

// latestNode is the symlink to a VM's newest point.
type latestNode struct {
	gofs.Inode
	m  *mount
	vm string
}

var (
	_ gofs.NodeReadlinker = (*latestNode)(nil)
	_ gofs.NodeGetattrer  = (*latestNode)(nil)
)

func (l *latestNode) target() (string, syscall.Errno) {
	times, err := l.m.archive.PointTimes(l.vm)
	if err != nil {
		return "", l.m.errno("latest of "+l.vm, err)
	}
	if len(times) == 0 {
		return "", syscall.ENOENT
	}
	return catalog.FormatPointTime(times[len(times)-1]), 0
}

func (l *latestNode) attr(ctx context.Context, out *fuse.Attr) syscall.Errno {
	t, errno := l.target()
	if errno != 0 {
		return errno
	}
	out.Ino = inoOf("latest", l.vm)
	out.Mode = syscall.S_IFLNK | 0o777
	out.Size = uint64(len(t))
	out.Nlink = 1
	out.Owner = fuse.Owner{Uid: l.m.uid, Gid: l.m.gid}
	pt, _ := catalog.ParsePointTime(t)
	out.SetTimes(&pt, &pt, &pt)
	return 0
}

func (l *latestNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.SetTimeout(liveTimeout)
	return l.attr(ctx, &out.Attr)
}

func (l *latestNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	t, errno := l.target()
	return []byte(t), errno
}

// entry is one child of a listDir.
type entry struct {
	name string
	mode uint32 // S_IFDIR, S_IFREG or S_IFLNK
	ino  uint64
	node func() attrer // makes the child node
}

// listDir is a directory whose children are computed on first use:
// points, disks, volume lists, config.
type listDir struct {
	gofs.Inode
	m     *mount
	ino   uint64
	mtime time.Time
	load  func(ctx context.Context) ([]entry, error)
	// private: only the mounting user (and ImageGroup) may enter.
	private bool

	// A failed load is not kept (see readerFile); success is.
	mu     sync.Mutex
	ents   []entry // sorted by name; guarded by mu
	loaded bool    // guarded by mu
}

var (
	_ gofs.NodeLookuper  = (*listDir)(nil)
	_ gofs.NodeReaddirer = (*listDir)(nil)
	_ gofs.NodeGetattrer = (*listDir)(nil)
)

func (d *listDir) entries(ctx context.Context) ([]entry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.loaded {
		return d.ents, nil
	}
	ents, err := d.load(ctx)
	if err != nil {
		return nil, err
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].name < ents[j].name })
	d.ents, d.loaded = ents, true
	return ents, nil
}

func (d *listDir) attr(ctx context.Context, out *fuse.Attr) syscall.Errno {
	d.m.dirAttr(out, d.ino, d.mtime)
	if d.private {
		out.Mode = syscall.S_IFDIR | d.m.privDir
		out.Gid = d.m.privGid
	}
	return 0
}

func (d *listDir) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return d.attr(ctx, &out.Attr)
}

func (d *listDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ents, err := d.entries(ctx)
	if err != nil {
		return nil, d.m.errno("list directory", err)
	}
	i := sort.Search(len(ents), func(i int) bool { return ents[i].name >= name })
	if i == len(ents) || ents[i].name != name {
		return nil, syscall.ENOENT
	}
	e := ents[i]
	n := e.node()
	if errno := entryOut(ctx, n, out, frozenTimeout); errno != 0 {
		return nil, errno
	}
	return d.NewInode(ctx, n.(gofs.InodeEmbedder), gofs.StableAttr{Mode: e.mode, Ino: e.ino}), 0
}

func (d *listDir) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ents, err := d.entries(ctx)
	if err != nil {
		return nil, d.m.errno("list directory", err)
	}
	out := make([]fuse.DirEntry, len(ents))
	for i, e := range ents {
		out[i] = fuse.DirEntry{Name: e.name, Mode: e.mode, Ino: e.ino}
	}
	return gofs.NewListDirStream(out), 0
}
