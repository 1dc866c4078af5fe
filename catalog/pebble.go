package catalog

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vmarchive/vmarchive/catalog/format"
)

// quietLogger keeps pebble's informational chatter off the user's terminal.
type quietLogger struct{}

func (quietLogger) Infof(string, ...interface{})  {}
func (quietLogger) Errorf(string, ...interface{}) {}
func (quietLogger) Fatalf(format string, args ...interface{}) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}

func openPebble(dir string) (*pebble.DB, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", dir, err)
	}
	return db, nil
}

func (r *Repo) checkSchema(create bool) error {
	v, closer, err := r.db.Get(format.SchemaKey())
	if errors.Is(err, pebble.ErrNotFound) {
		if !create {
			return fmt.Errorf("catalog has no schema version: run vmarchive catalog rebuild: %w", ErrCorrupt)
		}
		return r.db.Set(format.SchemaKey(), []byte{SchemaVersion}, pebble.Sync)
	}
	if err != nil {
		return fmt.Errorf("read catalog schema: %w", err)
	}
	defer closer.Close()
	if len(v) != 1 || v[0] != SchemaVersion {
		return fmt.Errorf("catalog schema %x, this build uses %d: run vmarchive catalog rebuild", v, SchemaVersion)
	}
	return nil
}

// chunkKnown reports whether the catalog records chunk id.
func (r *Repo) chunkKnown(id ChunkID) (bool, error) {
	_, closer, err := r.db.Get(format.ChunkKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("catalog lookup of chunk %s: %w", id, err)
	}
	closer.Close()
	return true, nil
}
