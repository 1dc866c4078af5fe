package partition

import (
	"errors"
	"fmt"
)

// ErrCorrupt marks a partition table or LVM structure that is damaged or
// inconsistent. Errors returned by this package wrap it with the structure and
// byte offset concerned; test for it with errors.Is.
var ErrCorrupt = errors.New("corrupt")

// ErrNoLVM is returned by ReadLVM when the device carries no LVM2 label.
var ErrNoLVM = errors.New("no LVM2 physical volume label")

// corruptf formats an error that wraps ErrCorrupt, e.g.
// "GPT header at byte 512: bad signature: corrupt".
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrCorrupt)
}

// unsupportedf formats an error that wraps errors.ErrUnsupported.
func unsupportedf(format string, args ...any) error {
	return fmt.Errorf("unsupported: %s: %w", fmt.Sprintf(format, args...), errors.ErrUnsupported)
}
