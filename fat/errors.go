package fat

import "errors"

// ErrCorrupt marks damage in the on-disk structures (or an image cut short).
// Errors wrapping it name the structure, cluster and offset.
var ErrCorrupt = errors.New("corrupt FAT filesystem")

// ErrNotDir is returned when a directory operation names a file.
var ErrNotDir = errors.New("not a directory")
