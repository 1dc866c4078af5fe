package fs

import (
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/vmarchive/vmarchive/guestfs"
)

// Files are opened without OPEN requests. Every file of the mount is
// read-only and needs no per-open state, so OPEN is answered ENOSYS: the
// kernel then stops sending OPEN and RELEASE for the whole mount, keeps
// the page cache across opens (as FOPEN_KEEP_CACHE), and reads with file
// handle 0. FLUSH is answered ENOSYS for the same reason, once. A tar of
// small files then costs one READ per file instead of OPEN, READ and
// RELEASE: a third of the round trips through /dev/fuse, which were most
// of its time. Errors an open used to return (a disk whose store stalls)
// come from the first read instead.

// noOpen answers an OPEN. The mount is read-only (MS_RDONLY), so the
// kernel refuses writing opens itself; the check stays for clarity.
func noOpen(flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR) != 0 {
		return nil, 0, syscall.EROFS
	}
	return nil, 0, syscall.ENOSYS
}

// maxOpenFiles bounds a volume's cache of open guest files: enough for
// the files a reader has in flight, small enough to ignore in memory.
const maxOpenFiles = 16

// openFiles is a volume's few most recently read guest files, so that the
// reads of one file do not each parse its inode and extent map again.
type openFiles struct {
	ino  [maxOpenFiles]uint64
	f    [maxOpenFiles]guestfs.File
	next int // the slot to replace next
}

// open returns guest file ino, opened once for all its reads.
func (v *volume) open(ino uint64) (guestfs.File, error) {
	v.mu.Lock()
	c := &v.files
	for i, f := range c.f {
		if f != nil && c.ino[i] == ino {
			v.mu.Unlock()
			return f, nil
		}
	}
	v.mu.Unlock()
	f, err := v.fs.Open(ino)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	c.ino[c.next], c.f[c.next] = ino, f
	c.next = (c.next + 1) % maxOpenFiles
	v.mu.Unlock()
	return f, nil
}
