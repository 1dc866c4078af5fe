package web

import (
	"bytes"
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/fs/tree"
	"github.com/vmarchive/vmarchive/guestfs"
)

// errNotFound is any path a user may not see or that does not exist:
// the two answer alike, so guessing names reveals nothing.
var errNotFound = os.ErrNotExist

// view resolves paths of the tree (/<vm>/<point>/<disk>/p<N>/...) for a
// user, through fs/tree and guestfs like the mount.
type view struct {
	archive tree.Archive
	guest   *guestfs.Options
	timeout time.Duration
	disks   diskCache
}

// node is one resolved path: a directory (list) or a file (open).
type node struct {
	name  string
	dir   bool
	size  int64
	mode  os.FileMode
	mtime time.Time
	vm    string // empty above the VM level
	point string
	list  func() ([]*node, error)
	open  func() (io.ReaderAt, error)
	// Set inside a guest filesystem: the volume and inode.
	fs   guestfs.FS
	gino uint64
}

// resolve walks elems (already split, no empty, "." or ".." element).
func (v *view) resolve(ctx context.Context, p *Principal, elems []string) (*node, error) {
	n := v.root(ctx, p)
	for i, name := range elems {
		if !n.dir {
			return nil, errNotFound
		}
		var err error
		if n, err = v.child(ctx, p, n, name); err != nil {
			return nil, fmt.Errorf("%s: %w", strings.Join(elems[:i+1], "/"), err)
		}
	}
	return n, nil
}

// child finds name in dir n: by lookup in a guest directory, else by
// listing (the synthetic levels are short).
func (v *view) child(ctx context.Context, p *Principal, n *node, name string) (*node, error) {
	if n.fs != nil {
		e, err := n.fs.Lookup(n.gino, name)
		if err != nil {
			return nil, notFound(err)
		}
		return guestNode(n, name, e.Ino)
	}
	if n.vm != "" && n.point == "" {
		return v.pointNode(ctx, p, n.vm, name)
	}
	kids, err := n.list()
	if err != nil {
		return nil, err
	}
	for _, k := range kids {
		if k.name == name {
			return k, nil
		}
	}
	return nil, errNotFound
}

func notFound(err error) error {
	if errors.Is(err, iofs.ErrNotExist) || errors.Is(err, catalog.ErrNotFound) {
		return errNotFound
	}
	return err
}

func (v *view) root(ctx context.Context, p *Principal) *node {
	return &node{name: "/", dir: true, mode: os.ModeDir | 0o555, list: func() ([]*node, error) {
		vms, err := v.archive.VMs()
		if err != nil {
			return nil, err
		}
		var out []*node
		for _, vm := range vms {
			if p.Sees(vm) {
				out = append(out, v.vmNode(ctx, p, vm, time.Time{}))
			}
		}
		return out, nil
	}}
}

func (v *view) vmNode(ctx context.Context, p *Principal, vm string, t time.Time) *node {
	return &node{name: vm, dir: true, mode: os.ModeDir | 0o555, mtime: t, vm: vm, list: func() ([]*node, error) {
		times, err := v.archive.PointTimes(vm)
		if err != nil {
			return nil, err
		}
		out := make([]*node, 0, len(times)+1)
		for _, t := range times {
			out = append(out, v.pointDir(ctx, vm, catalog.FormatPointTime(t), catalog.FormatPointTime(t), t))
		}
		if len(times) > 0 {
			last := times[len(times)-1]
			out = append(out, v.pointDir(ctx, vm, catalog.Latest, catalog.FormatPointTime(last), last))
		}
		return out, nil
	}}
}

// pointNode finds a point of vm by name (or latest) without listing all.
func (v *view) pointNode(ctx context.Context, p *Principal, vm, name string) (*node, error) {
	times, err := v.archive.PointTimes(vm)
	if err != nil || len(times) == 0 {
		return nil, errNotFound
	}
	if name == catalog.Latest {
		t := times[len(times)-1]
		return v.pointDir(ctx, vm, name, catalog.FormatPointTime(t), t), nil
	}
	t, err := catalog.ParsePointTime(name)
	if err != nil || catalog.FormatPointTime(t) != name {
		return nil, errNotFound
	}
	if _, ok := slices.BinarySearchFunc(times, t, time.Time.Compare); !ok {
		return nil, errNotFound
	}
	return v.pointDir(ctx, vm, name, name, t), nil
}

// pointDir is a point shown as name (its own, or latest).
func (v *view) pointDir(ctx context.Context, vm, name, point string, t time.Time) *node {
	return &node{name: name, dir: true, mode: os.ModeDir | 0o555, mtime: t, vm: vm, point: point, list: func() ([]*node, error) {
		m, err := v.archive.Point(vm, point)
		if err != nil {
			return nil, notFound(err)
		}
		var out []*node
		for _, it := range tree.PointItems(m) {
			out = append(out, v.pointItem(ctx, m, it))
		}
		return out, nil
	}}
}

func (v *view) pointItem(ctx context.Context, m *catalog.Manifest, it tree.Item) *node {
	n := &node{name: it.Name, dir: it.Dir(), mode: 0o444, mtime: m.Time, vm: m.VM, point: m.Name(), size: it.Size}
	if n.dir {
		n.mode = os.ModeDir | 0o555
	}
	switch it.Kind {
	case tree.DiskImage:
		n.open = func() (io.ReaderAt, error) {
			r, _, err := tree.OpenDisk(ctx, v.archive, m, it.Disk, v.timeout)
			return r, err
		}
	case tree.DiskDir:
		n.list = func() ([]*node, error) { return v.diskItems(ctx, m, it.Disk) }
	case tree.ConfigDir:
		n.list = func() ([]*node, error) { return v.configItems(ctx, m), nil }
	}
	return n
}

func (v *view) configItems(ctx context.Context, m *catalog.Manifest) []*node {
	var out []*node
	for name, c := range m.Config {
		out = append(out, &node{name: name, mode: 0o444, size: c.Size, mtime: m.Time, vm: m.VM, point: m.Name(), open: func() (io.ReaderAt, error) {
			b, err := v.archive.ReadBlob(ctx, c.ID, int(c.Size))
			if err != nil {
				return nil, fmt.Errorf("%s config %s: %w", m.ID(), name, err)
			}
			return bytes.NewReader(b), nil
		}})
	}
	return out
}

// diskItems lists a disk's directory, nesting lvm/<vg>/<lv> as the mount.
func (v *view) diskItems(ctx context.Context, m *catalog.Manifest, disk string) ([]*node, error) {
	gd, derr, err := v.disks.open(ctx, v, m, disk)
	if err != nil {
		return nil, err
	}
	nest := tree.NewNest[*node]()
	for _, it := range tree.DiskItems(gd) {
		n := &node{name: it.Name, dir: it.Dir(), mode: 0o444, size: it.Size, mtime: m.Time, vm: m.VM, point: m.Name()}
		switch vol := it.Volume; it.Kind {
		case tree.VolumesText:
			text := tree.VolumesReport(m, disk, gd, derr, nil)
			n.size = int64(len(text))
			n.open = func() (io.ReaderAt, error) { return strings.NewReader(text), nil }
		case tree.VolumeImage:
			n.open = func() (io.ReaderAt, error) { return vol.Reader, nil }
		case tree.VolumeFS:
			n.mode = os.ModeDir | 0o555
			n.fs, n.gino = vol.FS, vol.FS.Root()
			n.list = func() ([]*node, error) { return guestList(n) }
		}
		nest.Add(it.Name, n)
	}
	return nestNodes(nest, m), nil
}

func nestNodes(t *tree.Nest[*node], m *catalog.Manifest) []*node {
	var out []*node
	for name, n := range t.Files {
		n.name = name
		out = append(out, n)
	}
	for _, name := range t.Shown() {
		sub := t.Dirs[name]
		out = append(out, &node{name: name, dir: true, mode: os.ModeDir | 0o555, mtime: m.Time, vm: m.VM, point: m.Name(),
			list: func() ([]*node, error) { return nestNodes(sub, m), nil }})
	}
	return out
}

// guestNode is inode ino of dir's filesystem, named name.
func guestNode(dir *node, name string, ino uint64) (*node, error) {
	a, err := dir.fs.Stat(ino)
	if err != nil {
		return nil, notFound(err)
	}
	n := &node{name: name, size: a.Size, mtime: a.Mtime, vm: dir.vm, point: dir.point, fs: dir.fs, gino: ino}
	n.mode = os.FileMode(a.Mode & 0o777)
	switch a.Mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		n.dir, n.mode, n.size = true, n.mode|os.ModeDir, 0
		n.list = func() ([]*node, error) { return guestList(n) }
	case syscall.S_IFREG:
		n.open = func() (io.ReaderAt, error) { return dir.fs.Open(ino) }
	case syscall.S_IFLNK:
		n.mode |= os.ModeSymlink
	default:
		n.mode |= os.ModeIrregular
	}
	return n, nil
}

// guestList lists a guest directory: its files and directories (what
// WebDAV can show; symlinks and special files are left out).
func guestList(dir *node) ([]*node, error) {
	ents, err := dir.fs.ReadDir(dir.gino)
	if err != nil {
		return nil, err
	}
	ents, _ = tree.CleanEntries(ents)
	out := make([]*node, 0, len(ents))
	for _, e := range ents {
		if t := e.Mode & syscall.S_IFMT; t != 0 && t != syscall.S_IFDIR && t != syscall.S_IFREG {
			continue
		}
		n, err := guestNode(dir, e.Name, e.Ino)
		if err != nil || (!n.dir && n.open == nil) {
			continue // gone or special: not shown
		}
		out = append(out, n)
	}
	return out, nil
}

// diskCache keeps the last disks opened with guestfs: opening one reads
// its tables and superblocks, and every request of a client walks again.
type diskCache struct {
	mu    sync.Mutex
	lru   *list.List               // of *openDisk, most recent first; guarded by mu
	byKey map[string]*list.Element // guarded by mu
}

type openDisk struct {
	key  string
	once sync.Once
	gd   *guestfs.Disk
	derr error // why guestfs could not read the disk (volumes.txt says it)
	err  error // the disk could not be opened at all
}

const diskCacheSize = 16

func (c *diskCache) open(ctx context.Context, v *view, m *catalog.Manifest, disk string) (*guestfs.Disk, error, error) {
	key := m.ID().String() + "\x00" + disk
	c.mu.Lock()
	if c.lru == nil {
		c.lru, c.byKey = list.New(), map[string]*list.Element{}
	}
	el := c.byKey[key]
	if el == nil {
		el = c.lru.PushFront(&openDisk{key: key})
		c.byKey[key] = el
		if c.lru.Len() > diskCacheSize {
			old := c.lru.Remove(c.lru.Back()).(*openDisk)
			delete(c.byKey, old.key)
		}
	} else {
		c.lru.MoveToFront(el)
	}
	od := el.Value.(*openDisk)
	c.mu.Unlock()
	od.once.Do(func() {
		r, size, err := tree.OpenDisk(context.WithoutCancel(ctx), v.archive, m, disk, v.timeout)
		if err != nil {
			od.err = err
			return
		}
		od.gd, od.derr = guestfs.OpenDisk(r, size, v.guest)
	})
	if od.err != nil {
		c.forget(key) // a failed open is not kept: the next asks again
	}
	return od.gd, od.derr, od.err
}

func (c *diskCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.byKey[key]; el != nil {
		c.lru.Remove(el)
		delete(c.byKey, key)
	}
}
