package vdisk

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
)

// File is an image file or block device opened read-only.
type File struct {
	f    *os.File
	size int64
	seek sync.Mutex // serializes SEEK_DATA/SEEK_HOLE on the shared offset
}

var (
	_ SourceCloser = (*File)(nil)
	_ DataRanger   = (*File)(nil)
)

// OpenFile opens path read-only and measures it. It refuses what is not
// a regular file (or, with dev set, a block device) before opening it, so
// a FIFO cannot block the open; O_NONBLOCK and a check of the opened file
// close the race with a path swapped in between. Empty files are refused.
func OpenFile(path string, dev bool) (*File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, pathErr("stat", path, err)
	}
	if err := fileKind(path, fi, dev); err != nil {
		return nil, err
	}
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, pathErr("open", path, err)
	}
	if err := syscall.SetNonblock(fd, false); err != nil {
		syscall.Close(fd)
		return nil, pathErr("open", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	if ofi, err := f.Stat(); err != nil || !os.SameFile(fi, ofi) {
		f.Close()
		return nil, fmt.Errorf("%w: %q changed while it was opened", ErrNotImage, path)
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("measure %q: %w", path, err)
	}
	if size == 0 {
		f.Close()
		return nil, fmt.Errorf("%w: %q is empty (0 bytes)", ErrNotImage, path)
	}
	return &File{f: f, size: size}, nil
}

// pathErr is an *os.PathError's message with the path quoted: names come
// from untrusted descriptors and headers.
func pathErr(op, path string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s %q: %w", op, path, err)
}

// Stat is the opened file's information.
func (f *File) Stat() (os.FileInfo, error) { return f.f.Stat() }

// fileKind refuses everything but regular files and, if dev, block devices.
func fileKind(path string, fi os.FileInfo, dev bool) error {
	m := fi.Mode()
	switch {
	case m.IsRegular(), dev && m&os.ModeDevice != 0 && m&os.ModeCharDevice == 0:
		return nil
	case m&os.ModeCharDevice != 0:
		return fmt.Errorf("%w: %q is a character device, not a file or block device", ErrNotImage, path)
	case m&os.ModeDevice != 0:
		return fmt.Errorf("%w: %q is a block device; only the image given on the command line may be one", ErrNotImage, path)
	case m&os.ModeNamedPipe != 0:
		return fmt.Errorf("%w: %q is a FIFO (named pipe), not a file", ErrNotImage, path)
	case m.IsDir():
		return fmt.Errorf("%w: %q is a directory", ErrNotImage, path)
	}
	return fmt.Errorf("%w: %q is not a regular file (mode %v)", ErrNotImage, path, m)
}

// Name is the path the file was opened with.
func (f *File) Name() string { return f.f.Name() }

// Size is the file length in bytes.
func (f *File) Size() int64 { return f.size }

// ReadAt reads like os.File.ReadAt (pread, safe for concurrent use).
func (f *File) ReadAt(p []byte, off int64) (int, error) { return f.f.ReadAt(p, off) }

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// Linux lseek whence values for sparse files.
const (
	seekData = 3
	seekHole = 4
)

// DataExtents lists the ranges of [off, off+n) that hold data according to
// SEEK_DATA/SEEK_HOLE. Where the file system cannot tell, the whole range
// is returned. ReadAt uses pread, so moving the offset does not disturb it.
func (f *File) DataExtents(off, n int64) ([]Extent, error) {
	end := min(off+n, f.size)
	if off >= end {
		return nil, nil
	}
	whole := []Extent{{off, end - off}}
	sc, err := f.f.SyscallConn()
	if err != nil {
		return whole, nil
	}
	f.seek.Lock()
	defer f.seek.Unlock()
	var out []Extent
	var serr error
	if err := sc.Control(func(fd uintptr) { out, serr = seekExtents(int(fd), off, end) }); err != nil || serr != nil {
		return whole, nil // not supported here: assume all data
	}
	return out, nil
}

// seekExtents walks data ranges of [off, end) with lseek.
func seekExtents(fd int, off, end int64) ([]Extent, error) {
	var out Appender
	for pos := off; pos < end; {
		data, err := syscall.Seek(fd, pos, seekData)
		if errors.Is(err, syscall.ENXIO) {
			break // no data after pos
		}
		if err != nil {
			return nil, err
		}
		if data >= end {
			break
		}
		hole, err := syscall.Seek(fd, data, seekHole)
		if err != nil {
			return nil, err
		}
		hole = min(hole, end)
		if hole <= data || data < pos {
			return nil, errors.New("lseek went backwards") // do not loop
		}
		out.Add(data, hole-data)
		pos = hole
	}
	return out.List, nil
}

// Bytes is an in-memory Source, for tests and fuzzing.
type Bytes []byte

// Size is the length of b.
func (b Bytes) Size() int64 { return int64(len(b)) }

// ReadAt reads like os.File.ReadAt.
func (b Bytes) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Close does nothing.
func (b Bytes) Close() error { return nil }
