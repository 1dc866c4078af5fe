package web

import (
	"io/fs"
	"syscall"
)

// zipMode converts a guest st_mode for a zip header.
func zipMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & syscall.S_IFMT {
	case syscall.S_IFDIR:
		mode |= fs.ModeDir
	case syscall.S_IFLNK:
		mode |= fs.ModeSymlink
	}
	return mode
}
