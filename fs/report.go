package fs

import (
	"context"
	"fmt"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/vmarchive/vmarchive/fs/tree"
)

// textFile is a small read-only file whose text can grow while mounted
// (volumes.txt lists damage as reading finds it). Each open reads the text
// of that moment; direct I/O keeps the kernel from cutting it at a size
// it cached earlier.
type textFile struct {
	gofs.Inode
	m     *mount
	ino   uint64
	mtime time.Time
	text  func() string
}

// textHandle is an open textFile: the text as it was at open.
type textHandle struct{ b []byte }

var (
	_ gofs.NodeOpener    = (*textFile)(nil)
	_ gofs.NodeGetattrer = (*textFile)(nil)
	_ gofs.FileReader    = (*textHandle)(nil)
)

func (f *textFile) attr(ctx context.Context, out *fuse.Attr) syscall.Errno {
	size := uint64(len(f.text()))
	out.Ino = f.ino
	out.Mode = syscall.S_IFREG | f.m.privFile // as readerFile: never world-readable
	out.Nlink = 1
	out.Size = size
	out.Blocks = (size + 511) / 512
	out.Blksize = 4096
	out.Owner = fuse.Owner{Uid: f.m.uid, Gid: f.m.privGid}
	out.SetTimes(&f.mtime, &f.mtime, &f.mtime)
	return 0
}

func (f *textFile) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return f.attr(ctx, &out.Attr)
}

func (f *textFile) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR) != 0 {
		return nil, 0, syscall.EROFS
	}
	return &textHandle{b: []byte(f.text())}, fuse.FOPEN_DIRECT_IO, 0
}

func (h *textHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off >= int64(len(h.b)) {
		return fuse.ReadResultData(nil), 0
	}
	return fuse.ReadResultData(h.b[off:min(off+int64(len(dest)), int64(len(h.b)))]), 0
}

// logDamage logs, once each, the damaged parts the volume's reader has
// skipped (a bad directory entry): the listing goes on without them.
func (v *volume) logDamage() {
	notes := tree.Damage(v.fs)
	v.mu.Lock()
	done := v.logged
	v.logged = max(v.logged, len(notes))
	v.mu.Unlock()
	for _, note := range notes[min(done, len(notes)):] {
		v.m.errs.log("read", fmt.Errorf("%s: %s", v.where, note))
	}
}
