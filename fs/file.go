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
// a disk or partition image, a config file, volumes.txt.
type readerFile struct {
	gofs.Inode
	m     *mount
	ino   uint64
	size  int64
	mtime time.Time
	open  func(ctx context.Context) (io.ReaderAt, error)

	once sync.Once
	r    io.ReaderAt // set by once
	err  error
}

var (
	_ gofs.NodeOpener    = (*readerFile)(nil)
	_ gofs.NodeReader    = (*readerFile)(nil)
	_ gofs.NodeGetattrer = (*readerFile)(nil)
)

func (f *readerFile) attr(ctx context.Context, out *fuse.Attr) syscall.Errno {
	out.Ino = f.ino
	out.Mode = syscall.S_IFREG | 0o444
	out.Nlink = 1
	out.Size = uint64(f.size)
	out.Blocks = uint64(f.size+511) / 512
	out.Blksize = 1 << 20
	out.Owner = fuse.Owner{Uid: f.m.uid, Gid: f.m.gid}
	out.SetTimes(&f.mtime, &f.mtime, &f.mtime)
	return 0
}

func (f *readerFile) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return f.attr(ctx, &out.Attr)
}

func (f *readerFile) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR) != 0 {
		return nil, 0, syscall.EROFS
	}
	f.once.Do(func() { f.r, f.err = f.open(ctx) })
	if f.err != nil {
		return nil, 0, f.m.errno("open", f.err)
	}
	return nil, fuse.FOPEN_KEEP_CACHE, 0
}

func (f *readerFile) Read(ctx context.Context, fh gofs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	return readAt(f.m, f.r, f.size, dest, off)
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
		return nil, m.errno("read", err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}
