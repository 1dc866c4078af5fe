package catalog

import (
	"errors"
	"fmt"
	"sync"

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

// PutDerived stores val as the derived data name of point id. The point
// must exist. The write is not synced: derived data lost in a crash is
// computed again.
func (r *Repo) PutDerived(id PointID, name string, val []byte) error {
	if err := checkDerivedName(name); err != nil {
		return err
	}
	id = NewPointID(id.VM, id.Time)
	derivedMu.Lock()
	defer derivedMu.Unlock()
	_, closer, err := r.db.Get(id.Key())
	if errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("store %s of %s: no such point: %w", name, id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store %s of %s: %w", name, id, err)
	}
	closer.Close()
	if err := r.db.Set(format.DerivedKey(id.VM, id.Time, name), val, pebble.NoSync); err != nil {
		return fmt.Errorf("store %s of %s: %w", name, id, err)
	}
	return nil
}

// Derived returns a copy of the derived data name of point id, and false
// when there is none.
func (r *Repo) Derived(id PointID, name string) ([]byte, bool, error) {
	if err := checkDerivedName(name); err != nil {
		return nil, false, err
	}
	id = NewPointID(id.VM, id.Time)
	v, closer, err := r.db.Get(format.DerivedKey(id.VM, id.Time, name))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s of %s: %w", name, id, err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), true, nil
}

// deleteDerived adds the removal of every derived key of point id to b.
func deleteDerived(b *catBatch, id PointID) error {
	lo, hi := format.DerivedPrefix(id.VM, id.Time)
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
