package diff

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"path"
	"sort"
	"strings"
	"syscall"

	"github.com/vmarchive/vmarchive/guestfs"
)

// walk compares the two trees, or lists the one there is.
func (v *volumeDiff) walk() error {
	if v.ia != nil && v.ib != nil {
		err := v.walkIndexed(v.ia, v.ib)
		if !errors.Is(err, errIncomplete) {
			return err
		}
		// The index misses entries, or a path it names could not be
		// read: the walk tells what is unreadable, as without an index.
		v.pairs, v.onlyA, v.onlyB, v.unread = nil, nil, nil, nil
	}
	v.sem = make(chan struct{}, 4)
	for _, s := range []*side{&v.a, &v.b} {
		if s.fs != nil {
			s.guard = guestfs.NewGuard(s.fs, guestfs.Limits{})
		}
	}
	err := v.walkRoots()
	v.wg.Wait()
	if err != nil {
		return err
	}
	return v.failed()
}

func (v *volumeDiff) walkRoots() error {
	switch {
	case v.a.fs != nil && v.b.fs != nil:
		ra, errA := v.stat(v.a, "/", v.a.fs.Root())
		rb, errB := v.stat(v.b, "/", v.b.fs.Root())
		if errA != nil || errB != nil {
			return v.skipPair("/", "/", errA, errB)
		}
		return v.compare(ra, rb, "")
	case v.a.fs != nil:
		return v.only(v.a, "/", v.a.fs.Root(), &v.onlyA)
	case v.b.fs != nil:
		return v.only(v.b, "/", v.b.fs.Root(), &v.onlyB)
	}
	return nil
}

// stat reads what is compared of one path.
func (v *volumeDiff) stat(s side, p string, ino uint64) (*node, error) {
	if err := v.ctx.Err(); err != nil {
		return nil, err
	}
	a, err := s.fs.Stat(ino)
	if err != nil {
		return nil, fmt.Errorf("stat %s (inode %d): %w", p, ino, err)
	}
	n := &node{path: p, attr: a}
	names, err := s.fs.ListXattr(ino)
	if err != nil {
		return nil, fmt.Errorf("list xattrs of %s: %w", p, err)
	}
	for _, x := range names {
		val, err := s.fs.GetXattr(ino, x)
		if err != nil {
			return nil, fmt.Errorf("xattr %s of %s: %w", x, p, err)
		}
		if n.xattr == nil {
			n.xattr = map[string][]byte{}
		}
		n.xattr[x] = val
	}
	for _, x := range v.extra {
		val, err := s.fs.GetXattr(ino, x)
		if errors.Is(err, iofs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("xattr %s of %s: %w", x, p, err)
		}
		if n.xattr == nil {
			n.xattr = map[string][]byte{}
		}
		n.xattr[x] = val
	}
	if a.Mode&syscall.S_IFMT == syscall.S_IFLNK {
		if n.link, err = s.fs.Readlink(ino); err != nil {
			return nil, fmt.Errorf("readlink %s: %w", p, err)
		}
	}
	return n, nil
}

// list reads a directory's entries, unless the guard refuses it: met
// before (a cycle) or too deep. Past the entry limit the walk fails. A
// listing the reader left damaged entries out of is recorded as not read
// in full, and damaged is true.
func (v *volumeDiff) list(s side, n *node) (_ map[string]guestfs.DirEntry, damaged bool, _ error) {
	depth := strings.Count(n.path, "/")
	if n.path == "/" {
		depth = 0
	}
	if err := s.guard.Enter(n.path, n.attr.Ino, depth); err != nil {
		return nil, false, err
	}
	es, err := s.fs.ReadDir(n.attr.Ino)
	if err != nil {
		return nil, false, fmt.Errorf("read directory %s: %w", n.path, err)
	}
	if err := s.guard.Count(len(es)); err != nil {
		return nil, false, fmt.Errorf("point %s: %w", s.point, err)
	}
	if damaged = guestfs.DirDamaged(s.fs, n.attr.Ino); damaged {
		if err := v.skip(s, n.path, fmt.Errorf("read directory %s: %w", n.path, guestfs.ErrDamaged)); err != nil {
			return nil, false, err
		}
	}
	m := make(map[string]guestfs.DirEntry, len(es))
	for _, e := range es {
		m[e.Name] = e
	}
	return m, damaged, nil
}

// compare compares a path present in both points, recursing into
// directories. from is A's path when it differs from B's (a rename).
func (v *volumeDiff) compare(a, b *node, from string) error {
	if err := v.failed(); err != nil {
		return err // another directory failed: stop early
	}
	p := &pair{from: from, a: a, b: b}
	v.mu.Lock()
	v.pairs = append(v.pairs, p)
	v.mu.Unlock()
	if a.attr.Mode&syscall.S_IFMT != b.attr.Mode&syscall.S_IFMT {
		// Type changed: the contents of either side are one-sided.
		if isDir(a) {
			if err := v.children(v.a, a, &v.onlyA); err != nil {
				return err
			}
		}
		if isDir(b) {
			return v.children(v.b, b, &v.onlyB)
		}
		return nil
	}
	p.fields = metaFields(a, b)
	if isReg(a) {
		p.same = v.provedSame(a, b)
		return nil
	}
	if !isDir(a) {
		return nil
	}
	return v.compareDirs(a, b)
}

// compareDirs compares the entries of a directory present in both points.
func (v *volumeDiff) compareDirs(a, b *node) error {
	la, dmgA, errA := v.list(v.a, a)
	lb, dmgB, errB := v.list(v.b, b)
	if errA != nil || errB != nil {
		// Neither side's entries are compared: those of the readable side
		// may all still be on the other, so calling them added or deleted
		// could be false.
		return v.skipPair(a.path, b.path, errA, errB)
	}
	for _, name := range sortedNames(la, lb) {
		ea, inA := la[name]
		eb, inB := lb[name]
		pa, pb := path.Join(a.path, name), path.Join(b.path, name)
		var err error
		switch {
		case inA && inB:
			err = v.compareEntry(pa, pb, ea.Ino, eb.Ino)
		// A name one side lacks may be among the entries the other
		// side's reader left out as damaged: not called added or deleted.
		case inA && !dmgB:
			err = v.only(v.a, pa, ea.Ino, &v.onlyA)
		case inB && !dmgA:
			err = v.only(v.b, pb, eb.Ino, &v.onlyB)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// compareEntry compares a name present in both directories; pairs of
// directories are compared in parallel.
func (v *volumeDiff) compareEntry(pa, pb string, inoA, inoB uint64) error {
	na, errA := v.stat(v.a, pa, inoA)
	nb, errB := v.stat(v.b, pb, inoB)
	if errA != nil || errB != nil {
		return v.skipPair(pa, pb, errA, errB)
	}
	f := ""
	if pa != pb {
		f = pa
	}
	if isDir(na) && isDir(nb) {
		return v.spawn(func() error { return v.compare(na, nb, f) })
	}
	return v.compare(na, nb, f)
}

// skipPair records the sides of a path (pa in A, pb in B) that could not
// be read.
func (v *volumeDiff) skipPair(pa, pb string, errA, errB error) error {
	for _, x := range []struct {
		s   side
		p   string
		err error
	}{{v.a, pa, errA}, {v.b, pb, errB}} {
		if x.err == nil {
			continue
		}
		if err := v.skip(x.s, x.p, x.err); err != nil {
			return err
		}
	}
	return nil
}

// only records a path of one side and everything below it.
func (v *volumeDiff) only(s side, p string, ino uint64, out *[]*node) error {
	n, err := v.stat(s, p, ino)
	if err != nil {
		return v.skip(s, p, err)
	}
	v.add(out, n)
	if isDir(n) {
		return v.children(s, n, out)
	}
	return nil
}

func (v *volumeDiff) children(s side, n *node, out *[]*node) error {
	l, _, err := v.list(s, n)
	if err != nil {
		return v.skip(s, n.path, err)
	}
	for _, name := range sortedNames(l, nil) {
		if err := v.only(s, path.Join(n.path, name), l[name].Ino, out); err != nil {
			return err
		}
	}
	return nil
}

func sortedNames(a, b map[string]guestfs.DirEntry) []string {
	names := make([]string, 0, len(a)+len(b))
	for n := range a {
		names = append(names, n)
	}
	for n := range b {
		if _, ok := a[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}
