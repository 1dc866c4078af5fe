package diff

import (
	"errors"
	iofs "io/fs"
	"syscall"

	"github.com/vmarchive/vmarchive/guestfs"
)

// matchRenames pairs a path only in A with a path only in B when both are
// the same inode of the same type, generation and creation time (where
// recorded): an inode number alone may have been freed and given to an
// unrelated file.
func (v *volumeDiff) matchRenames() {
	if !v.renames {
		return
	}
	gone := map[uint64]*node{}
	for _, n := range v.onlyA {
		if _, dup := gone[n.attr.Ino]; !dup {
			gone[n.attr.Ino] = n
		}
	}
	var restB []*node
	used := map[*node]bool{}
	for _, nb := range v.onlyB {
		na := gone[nb.attr.Ino]
		if na == nil || used[na] || !sameFile(na.attr, nb.attr) {
			restB = append(restB, nb)
			continue
		}
		used[na] = true
		p := &pair{from: na.path, a: na, b: nb, fields: metaFields(na, nb)}
		if isReg(na) {
			p.same = v.provedSame(na, nb)
			v.keyVerdict(p)
		}
		v.pairs = append(v.pairs, p)
	}
	var restA []*node
	for _, n := range v.onlyA {
		if !used[n] {
			restA = append(restA, n)
		}
	}
	v.onlyA, v.onlyB = restA, restB
}

// dropHidden leaves out the paths on one side only that may be the other
// half of a rename, or a link, under a path that could not be read: the
// file's inode still holds it on the other side. Reporting nothing beats a
// false D or A; an inode proved free or reused keeps it.
func (v *volumeDiff) dropHidden() {
	if len(v.unread) == 0 || !v.renames {
		return
	}
	keep := func(l []*node, other side) []*node {
		var out []*node
		for _, n := range l {
			if !v.mayBeHidden(other, n) {
				out = append(out, n)
			}
		}
		return out
	}
	v.onlyA, v.onlyB = keep(v.onlyA, v.b), keep(v.onlyB, v.a)
}

// mayBeHidden reports whether the inode of n may hold the same file in s.
func (v *volumeDiff) mayBeHidden(s side, n *node) bool {
	if s.fs == nil {
		return false // the volume is not in that point at all
	}
	a, err := s.fs.Stat(n.attr.Ino)
	if errors.Is(err, iofs.ErrNotExist) {
		return false
	}
	return err != nil || a.Nlink > 0 && sameFile(n.attr, a)
}

// sameFile reports whether two versions of one inode number can be the
// same file.
func sameFile(a, b guestfs.Attr) bool {
	return a.Mode&syscall.S_IFMT == b.Mode&syscall.S_IFMT && a.Gen == b.Gen && a.Crtime.Equal(b.Crtime)
}
