package fs

import (
	"sync/atomic"
	"syscall"

	"github.com/vmarchive/vmarchive/guestfs"
)

// A walk (push.go) spends most of a directory's time on its files; the
// listings and inodes of the directories it enters next are small reads,
// and each waits for a chunk when the filesystem keeps them apart from
// the data read so far. XFS does: it spreads directories over its
// allocation groups, each directory's inode beside what was written in
// its group when it was made, so tar of bench/xfs.sh's 100k-file XFS tree
// waited in LOOKUP for some 90 chunks (2-3 ms each, cold), mostly those of
// the inodes of the subdirectories of a directory it had just listed,
// where the ext4 tree's walk waited for about 30 (in LOOKUP, READ and
// pushes together).
//
// When a walk enters a directory, the mount therefore lists and stats in
// the background the directory a depth-first walk enters after its files
// (readAhead), and that one's first subdirectory, and so on down; and
// when the kernel lists a directory, it stats its entries a few at once
// (statAhead) while READDIRPLUS looks them up one after another. Their
// chunks and the reader's own caches are then warm when the kernel asks:
// the XFS tree's tar waits for some 35 chunks.
const (
	aheadLevels  = 8       // levels up and down read ahead
	aheadEntries = 256     // entries of a directory read ahead that are stated
	aheadWorkers = 4       // stats at once
	aheadMemory  = 1 << 16 // directories remembered as read ahead, per volume
)

// aheadHook, when set (by tests, before mounting), is told the inode
// number of each directory read ahead, as the mount shows it.
var aheadHook func(ino uint64)

// walkAhead starts reading ahead the directories a walk of d enters next;
// d.mu is held.
func (d *guestNode) walkAhead() {
	if d.scan.ahead {
		return
	}
	d.scan.ahead = true
	go d.readAhead()
}

// readAhead reads ahead the directory a depth-first walk enters after
// d's files: the first subdirectory of d not listed yet, else the first
// one not listed after d in its parent, or after the parent in its own
// parent, and so on. (Farther ones would be read too early: the chunks
// of the subtree walked meanwhile push theirs out of the cache.)
func (d *guestNode) readAhead() {
	if next, ok := d.dirAfter(0, false); ok {
		d.vol.warm(next)
		return
	}
	child := d
	for range aheadLevels {
		_, p := child.Parent()
		if p == nil {
			return
		}
		parent, ok := p.Operations().(*guestNode)
		if !ok || parent.vol != d.vol {
			return
		}
		if next, ok := parent.dirAfter(child.gino, true); ok {
			d.vol.warm(next)
			return
		}
		child = parent
	}
}

// dirAfter returns the first subdirectory of g not listed yet, after the
// entry of inode after if byIno (searched from where the last search
// found it: a walk goes in listing order).
func (g *guestNode) dirAfter(after uint64, byIno bool) (uint64, bool) {
	g.mu.Lock()
	ents, start := g.ents, g.scan.aheadAt
	g.mu.Unlock()
	from := 0
	if byIno {
		n := len(ents)
		from = n
		for k := range n {
			if i := (start + k) % n; ents[i].Ino == after {
				from = i + 1
				g.mu.Lock()
				g.scan.aheadAt = i
				g.mu.Unlock()
				break
			}
		}
	}
	for _, e := range ents[from:] {
		if e.Mode&syscall.S_IFMT == syscall.S_IFDIR && !g.listedChild(e.Name) {
			return e.Ino, true
		}
	}
	return 0, false
}

// listedChild reports whether the kernel has listed g's subdirectory name.
func (g *guestNode) listedChild(name string) bool {
	ch := g.GetChild(name)
	if ch == nil {
		return false
	}
	c, ok := ch.Operations().(*guestNode)
	if !ok {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ents != nil
}

// warm lists directory dir and stats its first entries (statAhead), then
// does the same for its first subdirectory, and so on down, each
// directory once. Errors are left for the kernel's own requests to meet
// and report.
func (v *volume) warm(dir uint64) {
	for range aheadLevels {
		v.mu.Lock()
		if v.warmed == nil || len(v.warmed) >= aheadMemory {
			v.warmed = map[uint64]bool{}
		}
		done := v.warmed[dir]
		v.warmed[dir] = true
		v.mu.Unlock()
		if done {
			return
		}
		if aheadHook != nil {
			aheadHook(guestIno(v.key, dir))
		}
		ents, err := v.fs.ReadDir(dir)
		if err != nil {
			return
		}
		v.statAhead(ents)
		sub, found := uint64(0), false
		for _, e := range ents {
			if e.Mode&syscall.S_IFMT == syscall.S_IFDIR && e.Name != "." && e.Name != ".." {
				sub, found = e.Ino, true
				break
			}
		}
		if !found {
			return
		}
		dir = sub
	}
}

// statAhead stats the first aheadEntries of ents in the background, by
// aheadWorkers at once: the inodes of a directory's entries may lie in
// as many chunks (on XFS, those of its subdirectories do), and the
// kernel's LOOKUPs of them, one after another, then each find their
// chunk fetched or on the way.
func (v *volume) statAhead(ents []guestfs.DirEntry) {
	ents = ents[:min(len(ents), aheadEntries)]
	if len(ents) < 2 {
		return
	}
	var next atomic.Int64
	for range min(aheadWorkers, len(ents)) {
		go func() {
			for i := next.Add(1) - 1; i < int64(len(ents)); i = next.Add(1) - 1 {
				v.fs.Stat(ents[i].Ino)
			}
		}()
	}
}
