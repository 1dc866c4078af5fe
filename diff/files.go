package diff

import (
	"context"
	"errors"
	"fmt"
	"sort"
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
	// key is the index's content key of a regular file, when hasKey.
	key    index.ContentKey
	hasKey bool
}

// pair is a path present in both points (or a rename), to be classified.
type pair struct {
	from   string // A's path when renamed
	a, b   *node
	fields []string // metadata fields that differ
	same   bool     // content proved equal without reading
	// differs: content compared (Options.NoHash) and found different.
	differs bool
}

// volumeDiff compares the trees of one volume in two points.
type volumeDiff struct {
	ctx     context.Context
	a, b    side
	changed []extent // changed disk ranges, chunk or block granular
	renames bool     // inode numbers identify files across points
	noHash  bool     // Options.NoHash
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

func isDir(n *node) bool { return n.attr.Mode&syscall.S_IFMT == syscall.S_IFDIR }

func isReg(n *node) bool { return n.attr.Mode&syscall.S_IFMT == syscall.S_IFREG }
