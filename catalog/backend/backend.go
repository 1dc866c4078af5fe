// Package backend defines the small interface every chunk-store backend
// implements: put, get, list and delete of immutable named objects. There is
// no rename and no append, so an object store can implement it as well as a
// local directory.
package backend

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNotFound is wrapped by Get and Delete when an object does not exist.
var ErrNotFound = errors.New("object not found")

// Backend stores immutable objects under slash-separated names such as
// "data/ab/ab12...". Implementations are safe for concurrent use.
type Backend interface {
	// Put stores data under name. Storing a name again with the same
	// content is allowed and cheap.
	Put(ctx context.Context, name string, data []byte) error
	// Get returns the whole object.
	Get(ctx context.Context, name string) ([]byte, error)
	// List calls fn for every object whose name starts with prefix.
	List(ctx context.Context, prefix string, fn func(name string, size int64) error) error
	// Delete removes an object.
	Delete(ctx context.Context, name string) error
}

// Syncer is implemented by backends whose Put is not durable on return;
// Sync makes every earlier Put durable.
type Syncer interface {
	Sync(ctx context.Context) error
}

// Sync makes earlier puts durable when the backend needs it.
func Sync(ctx context.Context, b Backend) error {
	if s, ok := b.(Syncer); ok {
		return s.Sync(ctx)
	}
	return nil
}

// Replacer is implemented by backends whose Put may keep an object already
// stored under the name (the local one keeps a same-size object).
type Replacer interface {
	// Replace stores data under name whatever is stored there now.
	Replace(ctx context.Context, name string, data []byte) error
}

// Replace stores data under name even when an object, perhaps a damaged
// copy, is already there.
func Replace(ctx context.Context, b Backend, name string, data []byte) error {
	if r, ok := b.(Replacer); ok {
		return r.Replace(ctx, name, data)
	}
	if err := b.Delete(ctx, name); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("replace %s: remove the old copy: %w", name, err)
	}
	return b.Put(ctx, name, data)
}

// ErrLocked is wrapped by Delete and Replace when the store keeps the
// object until a retention date (S3 Object Lock) that has not passed.
var ErrLocked = errors.New("object is under retention")

// ErrNoLocking is wrapped by Locker methods when the store cannot lock
// objects (a bucket made without Object Lock).
var ErrNoLocking = errors.New("store cannot lock objects")

// Locker is implemented by backends whose store can keep objects from
// being deleted or overwritten until a date (S3 Object Lock).
type Locker interface {
	// CheckLocking returns an error wrapping ErrNoLocking, saying why,
	// when the store cannot lock objects.
	CheckLocking(ctx context.Context) error
	// LockUntil keeps name until at least until: a retention already
	// later stays as it is, an earlier one is extended.
	LockUntil(ctx context.Context, name string, until time.Time) error
}
