package xfs

import (
	"fmt"
	"sync"
)

// maxDamage bounds the damage notes kept: a hostile volume could hold
// millions of bad entries.
const maxDamage = 1000

// damageLog keeps, once each and in the order found, what reading skipped
// as damaged while going on with the rest of the volume.
type damageLog struct {
	mu      sync.Mutex
	seen    map[string]bool // guarded by mu
	notes   []string        // guarded by mu
	dropped bool            // notes beyond maxDamage were found; guarded by mu
	dirs    map[uint64]bool // directories with something left out; guarded by mu
}

// add notes that reading directory dir left out a damaged part.
func (l *damageLog) add(dir uint64, err error) {
	note := err.Error()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dirs == nil {
		l.dirs, l.seen = map[uint64]bool{}, map[string]bool{}
	}
	l.dirs[dir] = true
	switch {
	case l.seen[note]:
	case len(l.notes) >= maxDamage:
		l.dropped = true
	default:
		l.seen[note] = true
		l.notes = append(l.notes, note)
	}
}

// Damage lists the damaged parts reading has skipped so far, each once, in
// the order found: a directory data block that fails its checks (its
// entries are left out, the other blocks read), an entry with a bad name or
// inode number, and, on a filesystem without ftype, an entry whose inode
// cannot be read (Lookup of its name returns that error). At most 1000 are
// listed.
func (fs *FS) Damage() []string {
	l := &fs.damage
	l.mu.Lock()
	defer l.mu.Unlock()
	out := append([]string(nil), l.notes...)
	if l.dropped {
		out = append(out, fmt.Sprintf("more than %d damaged parts: the rest are not listed", maxDamage))
	}
	return out
}

// DirDamaged reports whether reading directory dir left out a damaged part.
func (fs *FS) DirDamaged(dir uint64) bool {
	fs.damage.mu.Lock()
	defer fs.damage.mu.Unlock()
	return fs.damage.dirs[dir]
}
