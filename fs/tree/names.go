package tree

import (
	"fmt"
	"strings"

	"github.com/vmarchive/vmarchive/guestfs"
)

// CleanEntries keeps the entries a path-based viewer may show, whatever a
// reader returned: no empty name, ".", "..", "/" or NUL (go-fuse panics on
// an empty name, a "/" breaks path semantics), and each name once (two
// entries with one name would share a lookup). bad says what was left out.
func CleanEntries(ents []guestfs.DirEntry) (kept []guestfs.DirEntry, bad []string) {
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
