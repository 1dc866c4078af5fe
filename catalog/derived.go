package catalog

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vmarchive/vmarchive/catalog/format"
)

// Derived data is what can be computed again from a point's chunks, such
// as its guest file index: kept in the catalog beside the point to save
// the work, never in the store, dropped by catalog rebuild (doc.go).

// derivedMu orders PutDerived's check that the point exists against
// Forget's removal of the point and its derived keys, so a value is never
// left behind for a forgotten point.
var derivedMu sync.Mutex

// MaxDerivedName bounds the length of a derived data name.
const MaxDerivedName = 64

// PutDerived stores val as the derived data name of point vm/t. The point
// must exist. The write is not synced: derived data lost in a crash is
// computed again.
func (r *Repo) PutDerived(vm string, t time.Time, name string, val []byte) error {
	if err := checkDerivedName(name); err != nil {
		return err
	}
	t = t.UTC().Truncate(time.Second)
	derivedMu.Lock()
	defer derivedMu.Unlock()
	_, closer, err := r.db.Get(format.PointKey(vm, t))
	if errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("store %s of %s/%s: no such point: %w", name, vm, FormatPointTime(t), ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store %s of %s/%s: %w", name, vm, FormatPointTime(t), err)
	}
	closer.Close()
	if err := r.db.Set(format.DerivedKey(vm, t, name), val, pebble.NoSync); err != nil {
		return fmt.Errorf("store %s of %s/%s: %w", name, vm, FormatPointTime(t), err)
	}
	return nil
}

// Derived returns a copy of the derived data name of point vm/t, and false
// when there is none.
func (r *Repo) Derived(vm string, t time.Time, name string) ([]byte, bool, error) {
	if err := checkDerivedName(name); err != nil {
		return nil, false, err
	}
	t = t.UTC().Truncate(time.Second)
	v, closer, err := r.db.Get(format.DerivedKey(vm, t, name))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s of %s/%s: %w", name, vm, FormatPointTime(t), err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), true, nil
}

// deleteDerived adds the removal of every derived key of point vm/t to b.
func deleteDerived(b *catBatch, vm string, t time.Time) error {
	lo, hi := format.DerivedPrefix(vm, t)
	return b.DeleteRange(lo, hi, nil)
}

// checkDerivedName accepts short names of lower-case letters, digits,
// '.', '-' and '_'.
func checkDerivedName(name string) error {
	if name == "" || len(name) > MaxDerivedName {
		return fmt.Errorf("derived data name %q: want 1 to %d characters", name, MaxDerivedName)
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("derived data name %q: character %q not allowed", name, c)
		}
	}
	return nil
}
