package ext4

import (
	"fmt"
	"sync"
)

// maxDamage bounds the damage notes kept: a hostile volume could hold
// millions of bad entries.
const maxDamage = 1000

// damageLog keeps, once each and in the order found, what reading skipped
// as damaged while going on with the rest.
type damageLog struct {
	mu      sync.Mutex
	seen    map[string]bool // guarded by mu
	notes   []string        // guarded by mu
	dropped bool            // notes beyond maxDamage were found; guarded by mu
	// dirs are the directories with an entry left out; no more than the
	// volume has directories, so it needs no bound of its own.
	dirs map[uint64]bool // guarded by mu
}

// add notes an entry of directory dir left out as damaged.
func (l *damageLog) add(dir uint64, note string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dirs == nil {
		l.dirs = map[uint64]bool{}
	}
	l.dirs[dir] = true
	switch {
	case l.seen[note]:
	case len(l.notes) >= maxDamage:
		l.dropped = true
	default:
		if l.seen == nil {
			l.seen = map[string]bool{}
		}
		l.seen[note] = true
		l.notes = append(l.notes, note)
	}
}

// Damage lists the damaged parts reading has skipped so far, each once, in
// the order found: a directory entry with an empty name, a "/" or a NUL in
// its name, or an inode number out of range is left out of ReadDir and
// Lookup while the rest of its directory reads. At most 1000 are listed.
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

// DirDamaged reports whether reading directory dir has left out a damaged
// entry (ReadDir reads all of it; Lookup only up to the name).
func (fs *FS) DirDamaged(dir uint64) bool {
	fs.damage.mu.Lock()
	defer fs.damage.mu.Unlock()
	return fs.damage.dirs[dir]
}
