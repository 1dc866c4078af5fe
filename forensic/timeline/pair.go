package timeline

import (
	"bytes"
	"syscall"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/index"
)

// pair reports what changed in volume v from point a (the last that had
// it) to point m: a merge of the two path-sorted indexes. Paths on one
// side only are kept until the end, when renames are told from deletions
// and additions.
func (r *run) pair(a volAt, m *catalog.Manifest, v *index.Volume) error {
	ca, cb := a.v.Cursor(), v.Cursor()
	okA, okB := ca.Next(), cb.Next()
	var gone, added []index.Entry
	for okA || okB {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		c := 0
		switch {
		case !okA:
			c = 1
		case !okB:
			c = -1
		default:
			c = bytes.Compare(ca.Path(), cb.Path())
		}
		switch {
		case c < 0:
			gone = append(gone, ca.Entry())
			okA = ca.Next()
		case c > 0:
			added = append(added, cb.Entry())
			okB = cb.Next()
		default:
			if !ca.SameRecord(cb) {
				ea, eb := ca.Entry(), cb.Entry()
				if !sameFile(&ea, &eb) {
					gone, added = append(gone, ea), append(added, eb) // replaced
				} else if err := r.changed(a.m, m, v, &ea, &eb, ""); err != nil {
					return err
				}
			}
			okA, okB = ca.Next(), cb.Next()
		}
	}
	return r.settle(a.m, m, v, gone, added)
}

// changed reports the changes of one file from a (ea) to m (eb); oldPath
// is ea's path when it was renamed.
func (r *run) changed(a, m *catalog.Manifest, v *index.Volume, ea, eb *index.Entry, oldPath string) error {
	if !r.match(v, eb.Path) && (oldPath == "" || !r.match(v, oldPath)) {
		return nil
	}
	if oldPath != "" {
		if err := r.send(Renamed, a, m, v, *eb, oldPath); err != nil {
			return err
		}
	}
	if oldPath != "" || newVersion(ea, eb) {
		if err := r.send(File, a, m, v, *eb, ""); err != nil {
			return err
		}
	}
	changed, err := r.contentChanged(a, m, v, ea, eb)
	if err != nil {
		// Say so rather than drop it: the content may have changed.
		ev := *eb
		return r.sendNote(Changed, a, m, v, ev, "could not compare: "+err.Error())
	}
	if changed {
		return r.send(Changed, a, m, v, *eb, "")
	}
	return nil
}

// settle pairs paths gone from a with paths new in m that are the same
// file (renames); the rest are deletions and additions.
func (r *run) settle(a, m *catalog.Manifest, v *index.Volume, gone, added []index.Entry) error {
	byIno := map[uint64]int{}
	for i := range gone {
		if _, dup := byIno[gone[i].Ino]; !dup {
			byIno[gone[i].Ino] = i
		}
	}
	used := make([]bool, len(gone))
	for i := range added {
		e := &added[i]
		j, ok := byIno[e.Ino]
		var err error
		if ok && !used[j] && sameFile(&gone[j], e) {
			used[j] = true
			err = r.changed(a, m, v, &gone[j], e, gone[j].Path)
		} else if r.match(v, e.Path) {
			err = r.added(m, v, *e)
		}
		if err != nil {
			return err
		}
	}
	for j := range gone {
		if !used[j] {
			if err := r.send(Deleted, a, m, v, gone[j], ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// sameFile reports whether two entries of one inode number can be the
// same file: same type, generation and birth time (where recorded).
func sameFile(a, b *index.Entry) bool {
	return a.Ino == b.Ino && a.Mode&syscall.S_IFMT == b.Mode&syscall.S_IFMT && a.Gen == b.Gen && a.Crtime.Equal(b.Crtime)
}

// newVersion reports whether b's times or attributes differ from a's.
func newVersion(a, b *index.Entry) bool {
	return a.Mode != b.Mode || a.Uid != b.Uid || a.Gid != b.Gid || a.Size != b.Size ||
		!a.Mtime.Equal(b.Mtime) || !a.Atime.Equal(b.Atime) || !a.Ctime.Equal(b.Ctime) || !a.Crtime.Equal(b.Crtime)
}
