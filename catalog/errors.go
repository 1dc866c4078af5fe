package catalog

import "errors"

var (
	// ErrHeld means another process holds the repository.
	ErrHeld = errors.New("repository held by another process")
	// ErrExists means the thing to create is already there.
	ErrExists = errors.New("already exists")
)
