package xfs

import (
	"errors"
	"fmt"
	iofs "io/fs"
)

// ErrCorrupt marks damaged or inconsistent on-disk data. Errors returned by
// this package wrap it with context naming the structure and its location.
var ErrCorrupt = errors.New("xfs: corrupt filesystem")

// ErrRealtime is returned when the data of a file on the real-time device
// is asked for: that device is not part of the volume. It also matches
// errors.ErrUnsupported.
var ErrRealtime = errors.New("xfs: file data is on the real-time device")

// corruptf returns an error wrapping ErrCorrupt.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// unsupportedf returns an error wrapping errors.ErrUnsupported.
func unsupportedf(format string, args ...any) error {
	return fmt.Errorf("xfs: %s: %w", fmt.Sprintf(format, args...), errors.ErrUnsupported)
}

// errFree is returned for an inode number that names no file (mode 0);
// it matches io/fs.ErrNotExist.
var errFree = fmt.Errorf("inode is not in use: %w", iofs.ErrNotExist)
