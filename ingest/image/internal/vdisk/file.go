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

// OpenFile opens path read-only and measures it (block devices included).
func OpenFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("measure %s: %w", path, err)
	}
	return &File{f: f, size: size}, nil
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
