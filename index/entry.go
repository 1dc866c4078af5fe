package index

import (
	"encoding/hex"
	"io/fs"
	"syscall"
	"time"
)

// ContentKey identifies a regular file's content within the archive
// without hashing it (doc.go): equal keys mean equal content.
type ContentKey [16]byte

func (k ContentKey) String() string { return hex.EncodeToString(k[:]) }

// Entry is one directory entry of a guest filesystem.
type Entry struct {
	Path   string // inside the volume, "/" first; "/" is the root
	Ino    uint64
	Mode   uint32 // st_mode with the S_IFMT type bits
	Nlink  uint32
	Uid    uint32
	Gid    uint32
	Size   int64
	Mtime  time.Time
	Ctime  time.Time
	Crtime time.Time // zero when the filesystem does not record it
	// Atime is zero in indexes of format 1, built before access times
	// were kept.
	Atime time.Time
	// Gen is the inode's generation (guestfs.Attr.Gen); 0 when unknown.
	Gen uint64
	// Key is the content key of a regular file, valid when HasKey.
	Key    ContentKey
	HasKey bool
	// StatFailed says the inode could not be read: only Path, Ino and the
	// type bits of Mode (from the directory entry) are known.
	StatFailed bool
	// ListFailed says a directory could not be listed (or was not
	// descended into: a cycle or too deep).
	ListFailed bool
}

// Type names the entry's file type: "file", "dir", "symlink", "fifo",
// "socket", "char", "block" or "unknown".
func (e *Entry) Type() string { return TypeName(e.Mode) }

// TypeName names the file type in st_mode bits.
func TypeName(mode uint32) string {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return "file"
	case syscall.S_IFDIR:
		return "dir"
	case syscall.S_IFLNK:
		return "symlink"
	case syscall.S_IFIFO:
		return "fifo"
	case syscall.S_IFSOCK:
		return "socket"
	case syscall.S_IFCHR:
		return "char"
	case syscall.S_IFBLK:
		return "block"
	}
	return "unknown"
}

// FileMode converts the st_mode bits to an io/fs.FileMode, for printing.
func FileMode(mode uint32) fs.FileMode {
	m := fs.FileMode(mode & 0o777)
	switch mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFIFO:
		m |= fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		m |= fs.ModeSocket
	case syscall.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		m |= fs.ModeDevice
	}
	if mode&syscall.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if mode&syscall.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if mode&syscall.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}
