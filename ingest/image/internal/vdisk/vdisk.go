// Package vdisk holds what the image format readers share: the Disk
// contract, the error markers, extent arithmetic, bounded caches and the
// file source with hole detection. It is internal so the public names live
// in package image.
package vdisk

import (
	"errors"
	"fmt"
	"io"
)

// Extent is a byte range of a virtual disk.
type Extent struct{ Off, Len int64 }

// End is the offset just past the extent.
func (e Extent) End() int64 { return e.Off + e.Len }

// Disk is a virtual disk opened read-only; see package image.
type Disk interface {
	io.ReaderAt
	Size() int64
	Format() string
	Allocated() ([]Extent, error)
	Close() error
}

// Source is one file of an image: random access plus its length.
type Source interface {
	io.ReaderAt
	Size() int64
}

// SourceCloser is a Source that must be closed.
type SourceCloser interface {
	Source
	io.Closer
}

// DataRanger is the optional fast path of a Source that knows which of its
// byte ranges hold data (SEEK_DATA/SEEK_HOLE); ranges are source-relative.
type DataRanger interface {
	DataExtents(off, n int64) ([]Extent, error)
}

var (
	// ErrCorrupt marks an image whose structures are inconsistent.
	ErrCorrupt = errors.New("corrupt disk image")
	// ErrUnsupported marks a valid image using a feature not implemented here.
	ErrUnsupported = fmt.Errorf("unsupported disk image: %w", errors.ErrUnsupported)
	// ErrNotImage marks input that is no disk image at all: a FIFO, a
	// character device, an empty file, a VMDK descriptor taken for raw.
	ErrNotImage = errors.New("not a disk image")
)

// Corruptf returns an ErrCorrupt error with a formatted explanation.
func Corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// Unsupportedf returns an ErrUnsupported error with a formatted explanation.
func Unsupportedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}

// MaxSize bounds any virtual disk size (8 EiB would overflow offset math).
const MaxSize = 1 << 60

// ClampRead trims a read of len(p) bytes at off to a disk of the given size,
// giving os.File semantics: the part to read, and io.EOF when the read
// reaches or starts past the end.
func ClampRead(p []byte, off, size int64) ([]byte, error) {
	if off < 0 {
		return nil, fmt.Errorf("read at negative offset %d", off)
	}
	if off >= size {
		return nil, io.EOF
	}
	if int64(len(p)) > size-off {
		return p[:size-off], io.EOF
	}
	return p, nil
}

// ReadFull reads exactly len(p) bytes of src at off, or fails naming what
// was being read; a short source is corruption, not EOF.
func ReadFull(src io.ReaderAt, p []byte, off int64, what string) error {
	n, err := src.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return Corruptf("%s: %d bytes at offset %d: file ends after %d", what, len(p), off, n)
	}
	return fmt.Errorf("%s: read %d bytes at offset %d: %w", what, len(p), off, err)
}

// Zero clears p.
func Zero(p []byte) { clear(p) }
