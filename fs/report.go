package fs

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/vmarchive/vmarchive/fs/tree"
)

// textFile is a small read-only file whose text can grow while mounted
// (volumes.txt lists damage as reading finds it). Each read takes the
// text of that moment. Without OPEN (noopen.go) there is no direct I/O,
// so a file whose text grows has its kernel cache dropped when it does
// (textRef).
type textFile struct {
	gofs.Inode
	m     *mount
	ino   uint64
	mtime time.Time
	text  func() string
	ref   *textRef // set for a text that grows
}

// textRef finds a growing textFile's inode, once the kernel has it, to
// drop what the kernel cached of it when its text grows.
type textRef struct{ f atomic.Pointer[textFile] }

// changed drops the kernel's cached size and pages of the file, so the
// next stat and read see the new text. It is a write to /dev/fuse that
// does not wait for any request, so a request handler may call it.
func (r *textRef) changed() {
	if r == nil {
		return
	}
	if f := r.f.Load(); f != nil {
		f.NotifyContent(0, 0)
	}
}

var (
	_ gofs.NodeOpener    = (*textFile)(nil)
	_ gofs.NodeReader    = (*textFile)(nil)
	_ gofs.NodeFlusher   = (*textFile)(nil)
	_ gofs.NodeGetattrer = (*textFile)(nil)
	_ gofs.NodeOnAdder   = (*textFile)(nil)
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

// OnAdd is called for the node the kernel is given (NewInode drops a
// duplicate): only that one can be notified.
func (f *textFile) OnAdd(ctx context.Context) {
	if f.ref != nil {
		f.ref.f.Store(f)
	}
}

func (f *textFile) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	return noOpen(flags)
}

func (f *textFile) Flush(ctx context.Context, fh gofs.FileHandle) syscall.Errno {
	return syscall.ENOSYS // noopen.go
}

func (f *textFile) Read(ctx context.Context, fh gofs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	b := f.text()
	if off >= int64(len(b)) {
		return fuse.ReadResultData(nil), 0
	}
	return fuse.ReadResultData([]byte(b[off:min(off+int64(len(dest)), int64(len(b)))])), 0
}

// logDamage logs, once each, the damaged parts the volume's reader has
// skipped (a bad directory entry): the listing goes on without them.
func (v *volume) logDamage() {
	notes := tree.Damage(v.fs)
	v.mu.Lock()
	done := v.logged
	v.logged = max(v.logged, len(notes))
	v.mu.Unlock()
	if done < len(notes) {
		v.report.changed()
	}
	for _, note := range notes[min(done, len(notes)):] {
		v.m.errs.log("read", fmt.Errorf("%s: %s", v.where, note))
	}
}
