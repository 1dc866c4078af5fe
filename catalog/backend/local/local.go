// Package local is a backend that keeps objects as files in a directory.
//
// Put writes a temporary file and renames it into place, so a crash never
// leaves a partial object under its final name. Puts are not synced one by
// one; Sync flushes the whole filesystem once (syncfs), which is far cheaper
// than an fsync per chunk and is called before a point becomes visible.
//
// Directories are created 0700 and objects 0600, whatever the umask. No
// symbolic link inside the root is followed: one planted at data/<hh> would
// make puts write, and deletes remove, outside the store.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/vmarchive/vmarchive/catalog/backend"
)

// Backend stores objects under a root directory.
type Backend struct {
	root    string
	checked sync.Map // directories under root found not to be symlinks
}

var (
	_ backend.Backend  = (*Backend)(nil)
	_ backend.Syncer   = (*Backend)(nil)
	_ backend.Replacer = (*Backend)(nil)
)

// New returns a backend rooted at dir, creating it if needed.
func New(dir string) (*Backend, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("local backend: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("local backend: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("local backend: %s is not a directory (a symbolic link?)", dir)
	}
	return &Backend{root: dir}, nil
}

// path returns the file of object name, after checking that no directory
// between the root and it is a symbolic link.
func (b *Backend) path(name string) (string, error) {
	if !validName(name) {
		return "", fmt.Errorf("local backend: invalid object name %q", name)
	}
	parts := strings.Split(name, "/")
	dir := b.root
	for _, part := range parts[:len(parts)-1] {
		dir = filepath.Join(dir, part)
		if err := b.checkDir(dir); err != nil {
			return "", err
		}
	}
	return filepath.Join(dir, parts[len(parts)-1]), nil
}

// validName accepts slash-separated names without empty, "." or ".."
// components.
func validName(name string) bool {
	if name == "" || strings.ContainsRune(name, '\\') {
		return false
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}

// checkDir refuses dir when it is a symbolic link; a missing dir is fine
// (Put creates it).
func (b *Backend) checkDir(dir string) error {
	if _, ok := b.checked.Load(dir); ok {
		return nil
	}
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("local backend: %w", err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 || !fi.IsDir() {
		return symlinkError(dir)
	}
	b.checked.Store(dir, true)
	return nil
}

func symlinkError(p string) error {
	return fmt.Errorf("local backend: %s is a symbolic link or not a directory: a store holds none; remove it", p)
}

// Put implements backend.Backend.
func (b *Backend) Put(ctx context.Context, name string, data []byte) error {
	p, err := b.path(name)
	if err != nil {
		return err
	}
	if fi, err := os.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return symlinkError(p)
	} else if err == nil && fi.Size() == int64(len(data)) {
		return nil // immutable: same name, same content
	}
	return b.Replace(ctx, name, data)
}

// Replace implements backend.Replacer: the new object is renamed over
// whatever is stored under name, so readers see the old or the new one.
func (b *Backend) Replace(ctx context.Context, name string, data []byte) error {
	p, err := b.path(name)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	f, err := os.CreateTemp(dir, ".tmp-")
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(dir, 0o700); err == nil {
			f, err = os.CreateTemp(dir, ".tmp-")
		}
	}
	if err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		// Start writing it out now, beside the work that follows, so that
		// the Sync at commit waits for less; an error here only loses that.
		_ = unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("put %s: %w", name, err)
	}
	return nil
}

// Get implements backend.Backend.
func (b *Backend) Get(ctx context.Context, name string) ([]byte, error) {
	p, err := b.path(name)
	if err != nil {
		return nil, err
	}
	data, err := readFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("get %s: %w", name, backend.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, err)
	}
	return data, nil
}

// List implements backend.Backend. Names come in lexical order.
func (b *Backend) List(ctx context.Context, prefix string, fn func(string, int64) error) error {
	// Walk only the directory that can hold the prefix.
	start := b.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = filepath.Join(b.root, filepath.FromSlash(prefix[:i]))
	}
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return symlinkError(p)
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		rel, err := filepath.Rel(b.root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if !strings.HasPrefix(name, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted while listing
			}
			return err
		}
		return fn(name, info.Size())
	})
	if err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	return nil
}

// readFile reads p without following a symbolic link.
func readFile(p string) ([]byte, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, symlinkError(p)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// One read into a buffer of the file's size: io.ReadAll's growing
	// copies were a third of a changed-areas ingest's CPU.
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, st.Size()+1) // one spare byte sees a file that grew
	n, err := io.ReadFull(f, b)
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		return b[:n], nil
	case err != nil:
		return nil, err
	}
	rest, err := io.ReadAll(f)
	return append(b, rest...), err
}

// Delete implements backend.Backend.
func (b *Backend) Delete(ctx context.Context, name string) error {
	p, err := b.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete %s: %w", name, backend.ErrNotFound)
		}
		if errors.Is(err, syscall.EPERM) {
			// Immutable (chattr +i) or append-only: kept on purpose.
			return fmt.Errorf("delete %s: %w: %v (chattr +i or +a)", name, backend.ErrLocked, err)
		}
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// Sync implements backend.Syncer: one syncfs for the filesystem holding the
// store makes all earlier puts (data and renames) durable.
func (b *Backend) Sync(ctx context.Context) error {
	f, err := os.Open(b.root)
	if err != nil {
		return fmt.Errorf("sync store: %w", err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("sync store: %w", err)
	}
	return nil
}
