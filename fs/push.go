package fs

import (
	"io"
	"syscall"
	"time"

	"github.com/vmarchive/vmarchive/guestfs"
)

// A reader that reads a second small file of a directory is taken to be
// walking it (tar, rsync, cp -r, a virus scanner), and so is one reading
// a first small file in a volume walked a moment ago: the mount then pushes
// the directory's other small files into the kernel's page cache
// (FUSE_NOTIFY_STORE), a write to /dev/fuse each, so the reader's reads
// hit the cache instead of each waiting for a READ round trip: on a
// virtual machine every such round trip costs several context switches,
// more than reading a small file. What it pushes is bounded per step, and
// the next step starts at the reader's next miss in the directory.
const (
	pushFileMax = 64 << 10 // larger files are read ahead by the kernel
	pushStep    = 4 << 20  // bytes pushed per step
)

// dirScan is a directory's walk state for pushing.
type dirScan struct {
	seen    bool   // a small file of the directory was read
	first   uint64 // which one
	next    int    // the entry (guestNode.ents) to push next
	running bool   // a step is pushing
	ahead   bool   // the directory after it was read ahead (walkahead.go)
	aheadAt int    // where walkahead.go last found a child in the entries
}

// pushSiblings starts a push step in g's directory if a second small
// file of it is being read and no step is running.
func (g *guestNode) pushSiblings() {
	_, parent := g.Parent()
	if parent == nil {
		return
	}
	d, ok := parent.Operations().(*guestNode)
	if !ok {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s := &d.scan
	switch {
	case s.running || d.ents == nil || s.next >= len(d.ents):
		return
	case (!s.seen || s.first == g.gino) && !g.vol.walking():
		s.seen, s.first = true, g.gino
		return
	}
	d.startPush()
}

// startPush starts a push step in directory d; d.mu is held.
func (d *guestNode) startPush() {
	d.scan.running = true
	d.vol.lastPush.Store(time.Now().UnixNano())
	go d.push()
	d.walkAhead()
}

// walkWindow is how long after a push step in one of its directories
// (its start or end) a volume counts as being walked: the first small
// file read in another directory then starts a step at once.
var walkWindow = 2 * time.Second // a variable for tests

func (v *volume) walking() bool {
	t := v.lastPush.Load()
	return t != 0 && time.Since(time.Unix(0, t)) < walkWindow
}

// push stores up to pushStep bytes of d's small files in the kernel's
// cache, in listing order from where the last step stopped. A file that
// fails to read is skipped: the reader's own READ reports it.
func (d *guestNode) push() {
	budget := pushStep
	var buf []byte
	d.mu.Lock()
	defer d.mu.Unlock()
	for budget > 0 && d.scan.next < len(d.ents) {
		e := d.ents[d.scan.next]
		d.scan.next++
		d.mu.Unlock()
		n, ok := d.pushOne(e, &buf)
		d.mu.Lock()
		if !ok {
			d.scan.next = len(d.ents) // the kernel is going away
		}
		budget -= n
	}
	d.scan.running = false
	d.vol.lastPush.Store(time.Now().UnixNano())
}

// pushOne stores file e of directory d in the kernel's cache if it is a
// small regular file the kernel knows. It returns the bytes stored, and
// false if the kernel refused other than for a forgotten inode.
func (d *guestNode) pushOne(e guestfs.DirEntry, buf *[]byte) (int, bool) {
	if e.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return 0, true
	}
	child := d.GetChild(e.Name)
	if child == nil {
		return 0, true // not looked up: the kernel has no inode to cache for
	}
	f, err := d.vol.fs.Open(e.Ino)
	if err != nil || f.Size() == 0 || f.Size() > pushFileMax {
		return 0, true
	}
	if int64(cap(*buf)) < f.Size() {
		*buf = make([]byte, pushFileMax)
	}
	b := (*buf)[:f.Size()]
	if n, err := f.ReadAt(b, 0); n != len(b) || (err != nil && err != io.EOF) {
		return 0, true
	}
	switch errno := child.WriteCache(0, b); errno {
	case 0:
		if c := d.vol.m.opts.Counters; c != nil {
			c.ReadBytes.Add(int64(len(b)))
			c.PushedBytes.Add(int64(len(b)))
		}
		return len(b), true
	case syscall.ENOENT:
		return 0, true // forgotten since
	default:
		return 0, false
	}
}
