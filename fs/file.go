package fs

import (
	"context"
	"io"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// readerFile is a read-only file over an io.ReaderAt opened on first use:
// a disk or partition image, a config file.
type readerFile struct {
	gofs.Inode
	m     *mount
	ino   uint64
	size  int64
	mtime time.Time
	open  func(ctx context.Context) (io.ReaderAt, error)

	// A failed open (a cancelled request, a stalled or failing backend)
	// is not kept: the next open tries again. Success is kept.
	mu sync.Mutex
	r  io.ReaderAt // guarded by mu; nil until an open succeeds
}

var (
	_ gofs.NodeOpener    = (*readerFile)(nil)
	_ gofs.NodeReader    = (*readerFile)(nil)
	_ gofs.NodeFlusher   = (*readerFile)(nil)
	_ gofs.NodeGetattrer = (*readerFile)(nil)
)

func (f *readerFile) attr(ctx context.Context, out *fuse.Attr) syscall.Errno {
	out.Ino = f.ino
	out.Mode = syscall.S_IFREG | f.m.privFile // not the guest's: never world-readable
	out.Nlink = 1
	out.Size = uint64(f.size)
	out.Blocks = uint64(f.size+511) / 512
	out.Blksize = 1 << 20
	out.Owner = fuse.Owner{Uid: f.m.uid, Gid: f.m.privGid}
	out.SetTimes(&f.mtime, &f.mtime, &f.mtime)
	return 0
}

func (f *readerFile) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return f.attr(ctx, &out.Attr)
}

// reader opens the file's reader, or returns the one already open.
func (f *readerFile) reader(ctx context.Context) (io.ReaderAt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.r != nil {
		return f.r, nil
	}
	r, err := f.open(ctx)
	if err != nil {
		return nil, err
	}
	f.r = r
	return r, nil
}

func (f *readerFile) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	return noOpen(flags)
}

func (f *readerFile) Flush(ctx context.Context, fh gofs.FileHandle) syscall.Errno {
	return syscall.ENOSYS // noopen.go
}

// Read opens the file on first use (noopen.go: there is no OPEN).
func (f *readerFile) Read(ctx context.Context, fh gofs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	r, err := f.reader(ctx)
	if err != nil {
		return nil, f.m.errno("open", err)
	}
	return readAt(f.m, r, f.size, dest, off)
}

// readAt serves a read from r, stopping at size.
func readAt(m *mount, r io.ReaderAt, size int64, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off >= size {
		return fuse.ReadResultData(nil), 0
	}
	if rest := size - off; int64(len(dest)) > rest {
		dest = dest[:rest]
	}
	n, err := r.ReadAt(dest, off)
	if err != nil && err != io.EOF {
		if c := m.opts.Counters; c != nil {
			c.ReadErrors.Add(1)
		}
		return nil, m.errno("read", err)
	}
	if c := m.opts.Counters; c != nil {
		c.ReadBytes.Add(int64(n))
	}
	return fuse.ReadResultData(dest[:n]), 0
}
