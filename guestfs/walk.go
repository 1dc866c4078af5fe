package guestfs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
)

// A guest's directories are what its administrator made them: a directory
// may contain one of its ancestors (a cycle), nest deeper than any path,
// or list more names than memory holds. Every walk of a guest tree goes
// through Walk or a Guard, so that damage costs its own subtree only.
var (
	// ErrCycle marks a directory met again under another path: a cycle
	// when the first path is an ancestor, else a directory with two names.
	ErrCycle = errors.New("directory met twice")
	// ErrTooDeep marks a directory nested deeper than the walk's limit.
	ErrTooDeep = errors.New("directories nested too deep")
	// ErrTooMany marks the entry where a walk stopped at its limit.
	ErrTooMany = errors.New("too many entries")
	// ErrBadName marks a name that cannot be a path element: "", or
	// with '/' or NUL. Walk leaves it out.
	ErrBadName = errors.New("invalid name")
	// ErrDamaged marks a directory whose reader left out damaged entries
	// (see DirDamager): its listing is not complete. Walk goes on with
	// the entries it has.
	ErrDamaged = errors.New("damaged entries left out of the listing")
	// SkipDir, returned by a WalkFunc, keeps Walk out of that directory.
	SkipDir = errors.New("skip this directory")
)

// The default limits. Linux paths end at 4096 bytes, so no real tree is
// 2048 directories deep; 1<<24 names is more than any real volume lists,
// and a few GiB of paths at most.
const (
	DefaultMaxDepth   = 2048
	DefaultMaxEntries = 1 << 24
)

// Limits bound a walk; zero fields take the defaults.
type Limits struct {
	MaxDepth   int // directory levels below the root
	MaxEntries int // names listed in all
}

// DirIDer is implemented by filesystems whose inode numbers do not name a
// directory uniquely: on FAT a number is an entry's position, and two
// entries may point at one directory's clusters.
type DirIDer interface {
	DirID(ino uint64) (uint64, error)
}

// Guard remembers the directories a walk has entered, by identity (the
// inode number, or DirID), and counts the names listed. It is safe for
// concurrent use, for walks that compare two trees in step; then which
// name of a directory with two names is listed depends on timing, but a
// cycle is always caught at the descendant, its ancestor being entered
// first.
type Guard struct {
	fs  FS
	lim Limits

	mu      sync.Mutex
	seen    map[uint64]string // directory identity -> first path; guarded by mu
	entries int               // guarded by mu
}

// NewGuard returns a guard for walks of fs.
func NewGuard(fs FS, lim Limits) *Guard {
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = DefaultMaxDepth
	}
	if lim.MaxEntries <= 0 {
		lim.MaxEntries = DefaultMaxEntries
	}
	return &Guard{fs: fs, lim: lim, seen: map[uint64]string{}}
}

// Enter is called before listing directory ino, found at path depth levels
// below the root. It fails, wrapping ErrCycle or ErrTooDeep, when the
// directory must not be listed.
func (g *Guard) Enter(path string, ino uint64, depth int) error {
	if depth > g.lim.MaxDepth {
		return fmt.Errorf("deeper than %d directories, not listed: %w", g.lim.MaxDepth, ErrTooDeep)
	}
	id := ino
	if d, ok := g.fs.(DirIDer); ok {
		var err error
		if id, err = d.DirID(ino); err != nil {
			return err
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	first, ok := g.seen[id]
	if !ok {
		g.seen[id] = path
		return nil
	}
	if first == "/" || strings.HasPrefix(path, first+"/") {
		return fmt.Errorf("directory cycle: the same directory as its ancestor %q, not listed again: %w", first, ErrCycle)
	}
	return fmt.Errorf("the same directory as %q, listed there: %w", first, ErrCycle)
}

// Count adds n listed names; past the limit it fails wrapping ErrTooMany.
func (g *Guard) Count(n int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.entries += n
	if g.entries > g.lim.MaxEntries {
		return fmt.Errorf("more than %d names listed, walk stopped: %w", g.lim.MaxEntries, ErrTooMany)
	}
	return nil
}

// WalkFunc is called for every name Walk finds, the root ("/") first.
// Returning SkipDir keeps Walk out of a directory; any other error stops
// the walk and is returned by Walk.
type WalkFunc func(path string, e DirEntry) error

// ErrFunc is told of each path Walk could not go into or list, and why;
// the walk goes on past it.
type ErrFunc func(path string, err error)

// Walk visits the tree of fs depth first, each directory once, in the
// order the directories list their names. A directory that cannot be
// listed, lies too deep or was met before is passed to onErr and left
// out; names that cannot be path elements ("", with '/' or NUL) are passed
// to onErr with their directory's path, and so is a directory whose reader
// left out damaged entries (ErrDamaged), whose other entries are walked. Walk stops early, telling onErr,
// when the entry limit is reached, and returns only fn's errors and
// ctx's.
func Walk(ctx context.Context, fs FS, lim Limits, fn WalkFunc, onErr ErrFunc) error {
	type dir struct {
		path  string
		ino   uint64
		depth int
	}
	g := NewGuard(fs, lim)
	root := fs.Root()
	if err := fn("/", DirEntry{Name: "/", Ino: root, Mode: syscall.S_IFDIR}); err != nil {
		return skipped(err)
	}
	stack := []dir{{"/", root, 0}}
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if err := g.Enter(d.path, d.ino, d.depth); err != nil {
			onErr(d.path, err)
			continue
		}
		ents, err := fs.ReadDir(d.ino)
		if err != nil {
			onErr(d.path, fmt.Errorf("read directory: %w", err))
		} else if DirDamaged(fs, d.ino) {
			onErr(d.path, ErrDamaged)
		}
		if err := g.Count(len(ents)); err != nil {
			onErr(d.path, err)
			return nil
		}
		var sub []dir
		for _, e := range ents {
			if e.Name == "." || e.Name == ".." {
				continue
			}
			if e.Name == "" || strings.ContainsAny(e.Name, "/\x00") {
				onErr(d.path, fmt.Errorf("entry %q (inode %d): %w, left out", e.Name, e.Ino, ErrBadName))
				continue
			}
			p := Join(d.path, e.Name)
			err := fn(p, e)
			if errors.Is(err, SkipDir) {
				continue
			}
			if err != nil {
				return err
			}
			if e.Mode&syscall.S_IFMT == syscall.S_IFDIR {
				sub = append(sub, dir{p, e.Ino, d.depth + 1})
			}
		}
		for i := len(sub) - 1; i >= 0; i-- { // popped in listing order
			stack = append(stack, sub[i])
		}
	}
	return nil
}

func skipped(err error) error {
	if errors.Is(err, SkipDir) {
		return nil
	}
	return err
}

// Join appends name to a walk path ("/" is the root).
func Join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}
