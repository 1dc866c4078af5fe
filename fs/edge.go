package fs

import (
	"fmt"
	"strings"

	"github.com/vmarchive/vmarchive/guestfs"
)

// maxEdgeNotes bounds the names a volume's listings lost at the mount's
// edge that volumes.txt keeps: a hostile volume could have millions.
const maxEdgeNotes = 1000

// cleanEntries keeps the entries go-fuse may be handed, whatever a reader
// returned: no empty name, ".", "..", "/" or NUL (go-fuse panics on an
// empty name, a "/" breaks path semantics), and each name once (two
// entries with one name would share a lookup). bad says what was left out.
func cleanEntries(ents []guestfs.DirEntry) (kept []guestfs.DirEntry, bad []string) {
	seen := make(map[string]bool, len(ents))
	kept = ents[:0:0]
	for _, e := range ents {
		why := ""
		switch {
		case e.Name == "":
			why = "empty name"
		case e.Name == "." || e.Name == "..":
			why = "reserved name"
		case strings.ContainsAny(e.Name, "/\x00"):
			why = `name contains "/" or NUL`
		case seen[e.Name]:
			why = "name listed twice"
		}
		if why != "" {
			bad = append(bad, fmt.Sprintf("entry %q (inode %d) left out: %s", e.Name, e.Ino, why))
			continue
		}
		seen[e.Name] = true
		kept = append(kept, e)
	}
	return kept, bad
}

// noteEdge records what the listing of directory dir lost at the edge: in
// the log once per directory, and in volumes.txt (bounded).
func (v *volume) noteEdge(dir uint64, bad []string) {
	v.mu.Lock()
	first := !v.edgeDirs[dir]
	if first {
		if v.edgeDirs == nil {
			v.edgeDirs = map[uint64]bool{}
		}
		v.edgeDirs[dir] = true
		for _, b := range bad {
			if len(v.edge) < maxEdgeNotes {
				v.edge = append(v.edge, fmt.Sprintf("directory %d: %s", dir, b))
			}
		}
	}
	v.mu.Unlock()
	if first {
		v.m.errs.log("readdir", fmt.Errorf("%s inode %d: %d entries left out: %s", v.where, dir, len(bad), strings.Join(bad, "; ")))
	}
}

// edgeNotes lists what listings lost at the edge so far.
func (v *volume) edgeNotes() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.edge...)
}
