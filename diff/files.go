package diff

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	iofs "io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/vmarchive/vmarchive/guestfs"
	"github.com/vmarchive/vmarchive/index"
)

// side is one point's version of a volume.
type side struct {
	fs     guestfs.FS      // nil when the volume is not in this point
	layout []guestfs.Piece // where the volume lies on the disk; nil if unknown
	point  string          // the point's name, for errors
	which  string          // "a" or "b"
	// guard lists each directory once and bounds the walk (set by walk).
	guard *guestfs.Guard
}

// node is one path of one side, as the walk found it.
type node struct {
	path  string
	attr  guestfs.Attr
	xattr map[string][]byte
	link  string
}

// pair is a path present in both points (or a rename), to be classified.
type pair struct {
	from   string // A's path when renamed
	a, b   *node
	fields []string // metadata fields that differ
	same   bool     // content proved equal without reading
}

// volumeDiff compares the trees of one volume in two points.
type volumeDiff struct {
	ctx     context.Context
	a, b    side
	changed []extent // changed disk ranges, chunk or block granular
	renames bool     // inode numbers identify files across points
	// extra are xattrs compared though ListXattr does not list them
	// (NTFS attribute flags and security descriptors).
	extra []string
	// ia and ib, when both set, are the points' indexes of the volume.
	ia, ib *index.Volume

	mu    sync.Mutex // guards pairs, onlyA, onlyB, unread and first during the walk
	pairs []*pair
	onlyA []*node
	onlyB []*node
	// unread are the paths that could not be read on one side; nothing
	// below them is compared.
	unread []PathError
	hashes map[*node]string
	// hashErrs says why a version has no hash: its content could not be
	// read. The rest of the comparison goes on without it.
	hashErrs map[*node]error

	// Subdirectories are compared in parallel, up to cap(sem) at once.
	sem   chan struct{}
	wg    sync.WaitGroup
	first error
}

// spawn runs f in a new goroutine when a slot is free, else in this one.
func (v *volumeDiff) spawn(f func() error) error {
	select {
	case v.sem <- struct{}{}:
		v.wg.Go(func() {
			defer func() { <-v.sem }()
			if err := f(); err != nil {
				v.fail(err)
			}
		})
		return nil
	default:
		return f()
	}
}

func (v *volumeDiff) fail(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.first == nil {
		v.first = err
	}
}

func (v *volumeDiff) failed() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.first
}

// skip records that p could not be read in s, so that its subtree is left
// out of the comparison; only a cancelled ctx stops the walk.
func (v *volumeDiff) skip(s side, p string, err error) error {
	if v.ctx.Err() != nil {
		return v.ctx.Err()
	}
	if errors.Is(err, guestfs.ErrTooMany) {
		return err // the volume's walk ends here
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.unread = append(v.unread, PathError{Path: p, Side: s.which, Err: oneLine(fmt.Sprintf("point %s: %v", s.point, err))})
	return nil
}

func (v *volumeDiff) add(list *[]*node, n *node) {
	v.mu.Lock()
	*list = append(*list, n)
	v.mu.Unlock()
}

func (v *volumeDiff) run() ([]Change, error) {
	if err := v.walk(); err != nil {
		return nil, err
	}
	byPath := func(l []*node) {
		sort.Slice(l, func(i, j int) bool { return l[i].path < l[j].path })
	}
	byPath(v.onlyA)
	byPath(v.onlyB)
	sort.Slice(v.unread, func(i, j int) bool {
		x, y := v.unread[i], v.unread[j]
		return x.Path < y.Path || x.Path == y.Path && x.Side < y.Side
	})
	v.matchRenames()
	v.dropHidden()
	if err := v.hashAll(); err != nil {
		return nil, err
	}
	v.fillSame()
	return v.changes(), nil
}

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

func isDir(n *node) bool { return n.attr.Mode&syscall.S_IFMT == syscall.S_IFDIR }
func isReg(n *node) bool { return n.attr.Mode&syscall.S_IFMT == syscall.S_IFREG }

// list reads a directory's entries, unless the guard refuses it: met
// before (a cycle) or too deep. Past the entry limit the walk fails.
func (v *volumeDiff) list(s side, n *node) (map[string]guestfs.DirEntry, error) {
	depth := strings.Count(n.path, "/")
	if n.path == "/" {
		depth = 0
	}
	if err := s.guard.Enter(n.path, n.attr.Ino, depth); err != nil {
		return nil, err
	}
	es, err := s.fs.ReadDir(n.attr.Ino)
	if err != nil {
		return nil, fmt.Errorf("read directory %s: %w", n.path, err)
	}
	if err := s.guard.Count(len(es)); err != nil {
		return nil, fmt.Errorf("point %s: %w", s.point, err)
	}
	m := make(map[string]guestfs.DirEntry, len(es))
	for _, e := range es {
		m[e.Name] = e
	}
	return m, nil
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
	la, errA := v.list(v.a, a)
	lb, errB := v.list(v.b, b)
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
		switch {
		case inA && inB:
			na, errA := v.stat(v.a, pa, ea.Ino)
			nb, errB := v.stat(v.b, pb, eb.Ino)
			if errA != nil || errB != nil {
				if err := v.skipPair(pa, pb, errA, errB); err != nil {
					return err
				}
				continue
			}
			f := ""
			if pa != pb {
				f = pa
			}
			if isDir(na) && isDir(nb) {
				if err := v.spawn(func() error { return v.compare(na, nb, f) }); err != nil {
					return err
				}
			} else if err := v.compare(na, nb, f); err != nil {
				return err
			}
		case inA:
			if err := v.only(v.a, pa, ea.Ino, &v.onlyA); err != nil {
				return err
			}
		default:
			if err := v.only(v.b, pb, eb.Ino, &v.onlyB); err != nil {
				return err
			}
		}
	}
	return nil
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
	l, err := v.list(s, n)
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

// metaFields names the metadata that differs between two versions of the
// same type. Access and change times are left out: reading a file or any
// other change moves them, so they would bury the changes that matter.
func metaFields(a, b *node) []string {
	var f []string
	x, y := a.attr, b.attr
	if isReg(a) && x.Size != y.Size {
		f = append(f, "size")
	}
	if x.Mode != y.Mode {
		f = append(f, "mode")
	}
	if x.Uid != y.Uid {
		f = append(f, "uid")
	}
	if x.Gid != y.Gid {
		f = append(f, "gid")
	}
	if !x.Mtime.Equal(y.Mtime) {
		f = append(f, "mtime")
	}
	if !x.Crtime.Equal(y.Crtime) {
		f = append(f, "crtime")
	}
	if a.link != b.link {
		f = append(f, "target")
	}
	if t := x.Mode & syscall.S_IFMT; (t == syscall.S_IFCHR || t == syscall.S_IFBLK) && x.Rdev != y.Rdev {
		f = append(f, "rdev")
	}
	var names []string
	for k := range a.xattr {
		names = append(names, k)
	}
	for k := range b.xattr {
		if _, ok := a.xattr[k]; !ok {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		va, okA := a.xattr[k]
		vb, okB := b.xattr[k]
		if okA != okB || !bytes.Equal(va, vb) {
			f = append(f, "xattr:"+k)
		}
	}
	return f
}

// provedSame reports whether two same-sized versions of a file are known
// equal without reading them: their extents lie on the same disk bytes in
// both points and no changed range touches them, and the change time did
// not move (which also catches what extents do not show, such as data
// written inside an inode or an MFT record).
func (v *volumeDiff) provedSame(a, b *node) bool {
	if a.attr.Size != b.attr.Size || !a.attr.Ctime.Equal(b.attr.Ctime) || v.a.layout == nil || v.b.layout == nil {
		return false
	}
	xa, okA := v.a.fs.(guestfs.Extenter)
	xb, okB := v.b.fs.(guestfs.Extenter)
	if !okA || !okB {
		return false
	}
	ea, err := xa.Extents(a.attr.Ino)
	if err != nil {
		return false
	}
	eb, err := xb.Extents(b.attr.Ino)
	if err != nil || len(ea) != len(eb) || (len(ea) == 0 && a.attr.Size > 0) {
		return false
	}
	for i := range ea {
		if ea[i].Logical != eb[i].Logical || ea[i].Length != eb[i].Length {
			return false
		}
		da, okA := toDisk(v.a.layout, ea[i].Physical, ea[i].Length)
		db, okB := toDisk(v.b.layout, eb[i].Physical, eb[i].Length)
		if !okA || !okB || !slices.Equal(da, db) {
			return false
		}
		for _, d := range da {
			if overlaps(v.changed, d.off, d.n) {
				return false
			}
		}
	}
	return true
}

// overlaps reports whether [off, off+n) meets any of the sorted extents.
func overlaps(es []extent, off, n int64) bool {
	i := sort.Search(len(es), func(i int) bool { return es[i].end() > off })
	return i < len(es) && es[i].off < off+n
}

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

// hashJob is one file version to hash, or two versions of one file read
// side by side, so that the chunks they share come from the store once
// (the second read hits the chunk cache).
type hashJob struct {
	a, b *node // either may be nil
}

// hashAll computes the SHA-256 of every regular file version the report
// shows, reading each once, a few at a time. A version that cannot be read
// gets an error in hashErrs instead; only a cancelled ctx stops hashAll.
func (v *volumeDiff) hashAll() error {
	var jobs []hashJob
	for _, p := range v.pairs {
		typeChanged := p.a.attr.Mode&syscall.S_IFMT != p.b.attr.Mode&syscall.S_IFMT
		switch {
		case typeChanged:
			j := hashJob{}
			if isReg(p.a) {
				j.a = p.a
			}
			if isReg(p.b) {
				j.b = p.b
			}
			if j.a != nil || j.b != nil {
				jobs = append(jobs, j)
			}
		case !isReg(p.a):
		case p.same && len(p.fields) == 0 && p.from == "":
			// unchanged: not shown, not read
		case p.same:
			jobs = append(jobs, hashJob{b: p.b}) // one read serves both
		default:
			jobs = append(jobs, hashJob{a: p.a, b: p.b})
		}
	}
	for _, n := range v.onlyA {
		if isReg(n) {
			jobs = append(jobs, hashJob{a: n})
		}
	}
	for _, n := range v.onlyB {
		if isReg(n) {
			jobs = append(jobs, hashJob{b: n})
		}
	}
	// Biggest first, so one huge file does not start last.
	sort.SliceStable(jobs, func(i, j int) bool { return jobs[i].size() > jobs[j].size() })
	v.hashes = make(map[*node]string, 2*len(jobs))
	v.hashErrs = map[*node]error{}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	next := make(chan hashJob)
	for range min(4, len(jobs)) {
		wg.Go(func() {
			bufA, bufB := make([]byte, 1<<20), make([]byte, 1<<20)
			for j := range next {
				ha, hb, errA, errB := v.hashBoth(j, bufA, bufB)
				mu.Lock()
				for _, r := range []struct {
					n   *node
					sum string
					err error
				}{{j.a, ha, errA}, {j.b, hb, errB}} {
					switch {
					case r.n == nil:
					case r.err != nil:
						v.hashErrs[r.n] = r.err
					default:
						v.hashes[r.n] = r.sum
					}
				}
				mu.Unlock()
			}
		})
	}
	for _, j := range jobs {
		if v.ctx.Err() != nil {
			break
		}
		next <- j
	}
	close(next)
	wg.Wait()
	return v.ctx.Err()
}

// hashBoth hashes a job's versions side by side; when that fails, each
// alone, so that a readable version still gets its hash.
func (v *volumeDiff) hashBoth(j hashJob, bufA, bufB []byte) (ha, hb string, errA, errB error) {
	ha, hb, err := v.hashPair(j, bufA, bufB)
	if err == nil || v.ctx.Err() != nil || j.a == nil || j.b == nil {
		return ha, hb, err, err
	}
	ha, _, errA = v.hashPair(hashJob{a: j.a}, bufA, bufB)
	_, hb, errB = v.hashPair(hashJob{b: j.b}, bufA, bufB)
	return ha, hb, errA, errB
}

func (j hashJob) size() int64 {
	var n int64
	if j.a != nil {
		n += j.a.attr.Size
	}
	if j.b != nil {
		n += j.b.attr.Size
	}
	return n
}

// hashPair hashes j.a in point A and j.b in point B, window by window.
func (v *volumeDiff) hashPair(j hashJob, bufA, bufB []byte) (ha, hb string, err error) {
	type stream struct {
		point string
		n     *node
		f     guestfs.File
		h     hash.Hash
		buf   []byte
		size  int64
	}
	var ss []*stream
	for _, x := range []struct {
		s   side
		n   *node
		buf []byte
	}{{v.a, j.a, bufA}, {v.b, j.b, bufB}} {
		if x.n == nil {
			ss = append(ss, nil)
			continue
		}
		f, err := x.s.fs.Open(x.n.attr.Ino)
		if err != nil {
			return "", "", fmt.Errorf("point %s: open %s: %w", x.s.point, x.n.path, err)
		}
		ss = append(ss, &stream{point: x.s.point, n: x.n, f: f, h: sha256.New(), buf: x.buf, size: f.Size()})
	}
	var end int64
	for _, s := range ss {
		if s != nil {
			end = max(end, s.size)
		}
	}
	for off := int64(0); off < end; off += int64(len(bufA)) {
		if err := v.ctx.Err(); err != nil {
			return "", "", err
		}
		for _, s := range ss {
			if s == nil || off >= s.size {
				continue
			}
			b := s.buf[:min(int64(len(s.buf)), s.size-off)]
			k, err := s.f.ReadAt(b, off)
			if k < len(b) {
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return "", "", fmt.Errorf("point %s: read %s at %d: %w", s.point, s.n.path, off, err)
			}
			s.h.Write(b)
		}
	}
	if ss[0] != nil {
		ha = hex.EncodeToString(ss[0].h.Sum(nil))
	}
	if ss[1] != nil {
		hb = hex.EncodeToString(ss[1].h.Sum(nil))
	}
	return ha, hb, nil
}

// changes classifies what the walk found, in path order. A file whose
// content could not be read is Modified when its size changed (its bytes
// differ whatever they are), else Unknown, with the error.
func (v *volumeDiff) changes() []Change {
	var out []Change
	for _, p := range v.pairs {
		c := Change{Path: p.b.path, From: p.from, Fields: p.fields, A: v.entry(p.a), B: v.entry(p.b), Err: v.errOf(p.a, p.b)}
		unread := c.A.SHA256 == "" || c.B.SHA256 == ""
		switch {
		case p.a.attr.Mode&syscall.S_IFMT != p.b.attr.Mode&syscall.S_IFMT:
			c.Status, c.Fields = TypeChanged, []string{"type"}
		case isReg(p.a) && !p.same && unread && c.Err != "" && p.a.attr.Size == p.b.attr.Size:
			c.Status = Unknown
		case isReg(p.a) && !p.same && (unread && c.Err != "" || c.A.SHA256 != c.B.SHA256):
			c.Fields = append([]string{"content"}, c.Fields...)
			c.Status = Modified
		case p.a.link != p.b.link:
			c.Status = Modified
		case len(p.fields) > 0:
			c.Status = MetadataOnly
		}
		if p.from != "" {
			c.Status = Renamed
		}
		if c.Status != "" {
			out = append(out, c)
		}
	}
	for _, n := range v.onlyA {
		out = append(out, Change{Status: Deleted, Path: n.path, A: v.entry(n), Err: v.errOf(n)})
	}
	for _, n := range v.onlyB {
		out = append(out, Change{Status: Added, Path: n.path, B: v.entry(n), Err: v.errOf(n)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// errOf joins the hashing errors of the given versions; "" when none.
func (v *volumeDiff) errOf(ns ...*node) string {
	var msgs []string
	for _, n := range ns {
		if err := v.hashErrs[n]; err != nil && !slices.Contains(msgs, err.Error()) {
			msgs = append(msgs, err.Error())
		}
	}
	return oneLine(strings.Join(msgs, "; "))
}

func (v *volumeDiff) entry(n *node) *Entry {
	a := n.attr
	e := &Entry{Ino: a.Ino, Type: typeName(a.Mode), Mode: a.Mode, Uid: a.Uid, Gid: a.Gid, Size: a.Size,
		Mtime: a.Mtime, Ctime: a.Ctime, Atime: a.Atime, Crtime: a.Crtime, Target: n.link}
	if h, ok := v.hashes[n]; ok {
		e.SHA256 = h
	}
	return e
}

// fillSame fills a proved-equal pair's A hash from B's.
func (v *volumeDiff) fillSame() {
	for _, p := range v.pairs {
		if p.same {
			if h, ok := v.hashes[p.b]; ok {
				v.hashes[p.a] = h
			}
		}
	}
}

func typeName(mode uint32) string {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return "file"
	case syscall.S_IFDIR:
		return "dir"
	case syscall.S_IFLNK:
		return "symlink"
	case syscall.S_IFCHR:
		return "char"
	case syscall.S_IFBLK:
		return "block"
	case syscall.S_IFIFO:
		return "fifo"
	case syscall.S_IFSOCK:
		return "socket"
	}
	return fmt.Sprintf("type %#o", mode&syscall.S_IFMT)
}
