package image

import (
	"io"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
)

// Extent is a byte range of the virtual disk.
type Extent = vdisk.Extent

// Disk is a virtual disk opened read-only. ReadAt is safe for concurrent use by many goroutines
// and returns zeros for unallocated areas; reads past Size return io.EOF like os.File.
type Disk interface {
	io.ReaderAt
	Size() int64    // virtual size in bytes
	Format() string // "raw", "vmdk-monolithicSparse", "vmdk-streamOptimized", "qcow2", ...
	// Allocated returns the sorted, non-overlapping ranges that may hold non-zero data;
	// everything outside reads as zeros, so the pipeline skips it without reading.
	Allocated() ([]Extent, error)
	Close() error
}

var (
	// ErrCorrupt marks a damaged image; test with errors.Is.
	ErrCorrupt = vdisk.ErrCorrupt
	// ErrUnsupported marks an image using a format or feature not
	// implemented here; it wraps errors.ErrUnsupported.
	ErrUnsupported = vdisk.ErrUnsupported
	// ErrNotImage marks input that is no disk image: a FIFO, a device
	// where a file is expected, an empty file, a raw image that is not
	// whole sectors or reads as a VMDK descriptor (OpenAs "raw" takes it).
	ErrNotImage = vdisk.ErrNotImage
)
