package fs

import (
	"fmt"
	"strings"
)

// maxEdgeNotes bounds the names a volume's listings lost at the mount's
// edge that volumes.txt keeps: a hostile volume could have millions.
const maxEdgeNotes = 1000

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
		v.report.changed()
		v.m.errs.log("readdir", fmt.Errorf("%s inode %d: %d entries left out: %s", v.where, dir, len(bad), strings.Join(bad, "; ")))
	}
}

// edgeNotes lists what listings lost at the edge so far.
func (v *volume) edgeNotes() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.edge...)
}
