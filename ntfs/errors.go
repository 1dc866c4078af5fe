package ntfs

import (
	"errors"
	"fmt"
)

// ErrCorrupt marks on-disk damage; errors wrapping it name the structure
// and where it was found.
var ErrCorrupt = errors.New("ntfs: corrupt volume")

// ErrEncrypted is returned when reading an EFS-encrypted file's data.
var ErrEncrypted = errors.New("ntfs: file is EFS-encrypted")

// ErrOffline is returned when reading a cloud placeholder whose data is not
// on the volume.
var ErrOffline = errors.New("ntfs: file data is not on the volume (cloud placeholder)")

// corruptf builds an error wrapping ErrCorrupt.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}
