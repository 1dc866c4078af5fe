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
}

func (l *damageLog) add(note string) {
	l.mu.Lock()
	defer l.mu.Unlock()
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
