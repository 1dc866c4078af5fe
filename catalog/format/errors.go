package format

import "errors"

var (
	// ErrCorrupt marks damaged repository data: a chunk whose hash does not
	// match, an undecodable object, an inconsistent manifest.
	ErrCorrupt = errors.New("repository data corrupt")
	// ErrNotFound marks a VM, point, disk or chunk that does not exist.
	ErrNotFound = errors.New("not found")
)

// ErrWrongPassword means no key file of an encrypted repository opens with
// the password given (or the one it names is damaged).
var ErrWrongPassword = errors.New("wrong password")
