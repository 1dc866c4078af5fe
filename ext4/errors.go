package ext4

import (
	"errors"
	"fmt"
)

// ErrCorrupt marks damaged or inconsistent on-disk data. Errors returned by
// this package wrap it with context naming the structure and its location.
var ErrCorrupt = errors.New("ext4: corrupt filesystem")

// ErrEncrypted is returned when the content or names of an fscrypt-encrypted
// inode are asked for. The error also matches errors.ErrUnsupported.
var ErrEncrypted = errors.New("ext4: inode is encrypted (fscrypt)")

// corruptf returns an error wrapping ErrCorrupt.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// unsupportedf returns an error wrapping errors.ErrUnsupported.
func unsupportedf(format string, args ...any) error {
	return fmt.Errorf("ext4: %s: %w", fmt.Sprintf(format, args...), errors.ErrUnsupported)
}

func encryptedErr(ino uint64) error {
	return fmt.Errorf("inode %d: %w (%w)", ino, ErrEncrypted, errors.ErrUnsupported)
}
