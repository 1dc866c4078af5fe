package catalog

import "errors"

var (
	// ErrCorrupt marks damaged repository data: a chunk whose hash does not
	// match, an undecodable object, an inconsistent manifest.
	ErrCorrupt = errors.New("repository data corrupt")
	// ErrNotFound marks a VM, point, disk or chunk that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrHeld means another process holds the repository.
	ErrHeld = errors.New("repository held by another process")
	// ErrExists means the thing to create is already there.
	ErrExists = errors.New("already exists")
)
