package testrestore

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"sync"
	"syscall"

	"github.com/vmarchive/vmarchive/guestfs"
	"github.com/vmarchive/vmarchive/index"
)

// walked is one entry as the walk found it.
type walked struct {
	path       string // inside the volume, "/" first
	ino        uint64
	attr       guestfs.Attr
	statFailed bool // only the type bits of attr.Mode are known
	key        index.ContentKey
	hasKey     bool // key is valid (as index.Entry.HasKey)
}

// job is a regular file whose data is to be read.
type job struct {
	path string // as mounted, for problems
	ino  uint64
	size int64
}

// walk lists the tree of fsys, stats every entry and reads the data of
// the (sampled) regular files on Readers goroutines.
func (t *tester) walk(vp string, fsys guestfs.FS, keys *keys) []walked {
	jobs := make(chan job, 64)
	var wg sync.WaitGroup
	for range t.opts.Readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, readSize)
			for j := range jobs {
				t.read(fsys, j, buf)
			}
		}()
	}
	var out []walked
	read := map[uint64]bool{} // hard-linked inodes already queued
	visit := func(p string, de guestfs.DirEntry) error {
		w := t.stat(vp, fsys, p, de)
		out = append(out, w)
		if w.attr.Mode&syscall.S_IFMT != syscall.S_IFREG {
			return nil
		}
		t.mu.Lock()
		t.res.Files++
		t.mu.Unlock()
		if !w.statFailed {
			keys.add(&out[len(out)-1])
		}
		if w.statFailed || !t.sampled(vp+p) || read[w.ino] {
			return nil
		}
		if w.attr.Nlink > 1 {
			read[w.ino] = true
		}
		select {
		case jobs <- job{path: vp + p, ino: w.ino, size: w.attr.Size}:
			return nil
		case <-t.ctx.Done():
			return t.ctx.Err()
		}
	}
	// Walk returns only ctx's error (visit's is ctx's too): Test checks it.
	_ = guestfs.Walk(t.ctx, fsys, guestfs.Limits{}, visit, func(p string, err error) { t.unlisted(vp, p, err) })
	close(jobs)
	wg.Wait()
	return out
}

// stat stats one entry; a failure is a problem and keeps the type bits.
func (t *tester) stat(vp string, fsys guestfs.FS, p string, de guestfs.DirEntry) walked {
	w := walked{path: p, ino: de.Ino}
	a, err := fsys.Stat(de.Ino)
	if err != nil {
		t.problem(mountPath(vp, p), "stat", err)
		w.statFailed, w.attr.Mode = true, de.Mode&syscall.S_IFMT
		return w
	}
	w.attr = a
	if a.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		t.mu.Lock()
		t.res.Dirs++
		t.mu.Unlock()
	}
	return w
}

// unlisted sorts what the walk could not go into: the guest's own damage
// is a warning, anything else (a read error) a problem.
func (t *tester) unlisted(vp, p string, err error) {
	for _, g := range []error{guestfs.ErrCycle, guestfs.ErrBadName, guestfs.ErrDamaged, guestfs.ErrTooDeep, guestfs.ErrTooMany} {
		if errors.Is(err, g) {
			t.warn(mountPath(vp, p), "list", err)
			return
		}
	}
	t.problem(mountPath(vp, p), "list", err)
}

// mountPath joins a volume's mounted name and a path inside it.
func mountPath(vp, p string) string {
	if p == "/" {
		return vp
	}
	return vp + p
}

// sampled reports whether the file at path (as mounted) is read: Take in
// Sample, by a hash of the point and the path.
func (t *tester) sampled(path string) bool {
	if t.opts.Sample <= 1 {
		return true
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%s", t.m.VM, t.m.Name(), path)
	return h.Sum64()%uint64(t.opts.Sample) < uint64(t.opts.Take)
}

// readSize is the size of one read of a file's data.
const readSize = 1 << 20

// read reads all of one file's data, stopping when ctx is done.
func (t *tester) read(fsys guestfs.FS, j job, buf []byte) {
	select {
	case <-t.ctx.Done(): // the queue drains at once
		return
	default:
	}
	f, err := fsys.Open(j.ino)
	if err != nil {
		t.problem(j.path, "open", err)
		return
	}
	var off int64
	for off < j.size && t.ctx.Err() == nil {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), j.size-off)], off)
		off += int64(n)
		if err == io.EOF && off == j.size {
			break
		}
		if err == nil && n == 0 {
			err = io.ErrNoProgress
		}
		if err != nil {
			t.problem(j.path, "read", fmt.Errorf("at offset %d of %d: %w", off, j.size, err))
			break
		}
	}
	t.mu.Lock()
	t.res.FilesRead++
	t.res.Bytes += off
	t.mu.Unlock()
}
