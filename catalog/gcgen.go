package catalog

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vmarchive/vmarchive/catalog/backend"
	"github.com/vmarchive/vmarchive/catalog/format"
)

// # The chunk keys of a shared store
//
// A chunk key says "this object is in the store", and an ingest does not
// upload a chunk whose key it finds. A gc on another host can make that
// untrue. So a gc of a shared store, once it holds its lock and before it
// deletes anything, writes a new random id to the object gcgen; each host
// keeps the id it last checked against in CACHE/<id>/gcgen. When a host's
// writers take the write lock (no gc can run while they hold it) and the
// ids differ, the host lists data/ and drops the keys of objects that are
// gone, then records the id: chunks gc removed are uploaded again.

// gcGenFile is the cache directory's copy of the last gcgen checked.
const gcGenFile = "gcgen"

// newGCGen records, before a gc deletes anything, that chunk keys
// elsewhere may be stale; this host's own are kept right by the gc.
func (r *Repo) newGCGen(ctx context.Context) error {
	b := make([]byte, 16)
	rand.Read(b)
	gen := []byte(hex.EncodeToString(b))
	if err := backend.Replace(ctx, r.be, gcGenName, gen); err != nil {
		return fmt.Errorf("record the gc run in the store: %w", err)
	}
	return writeFileAtomic(filepath.Join(r.dir, gcGenFile), gen)
}

// checkGCGen drops the chunk keys of objects gone from the store when a
// gc ran since the last check (see above). The caller holds the write lock.
func (r *Repo) checkGCGen(ctx context.Context) error {
	gen, err := r.be.Get(ctx, gcGenName)
	if errors.Is(err, backend.ErrNotFound) {
		gen, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("read the store's gc generation: %w", err)
	}
	local, err := os.ReadFile(filepath.Join(r.dir, gcGenFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if bytes.Equal(gen, local) {
		return nil
	}
	n, err := r.dropMissingKeys(ctx)
	if err != nil {
		return fmt.Errorf("drop chunk keys of objects a gc removed: %w", err)
	}
	if n > 0 {
		r.logf("a gc ran on another host: %d chunks it removed will be stored again when needed", n)
	}
	return writeFileAtomic(filepath.Join(r.dir, gcGenFile), gen)
}

// dropMissingKeys removes the chunk keys whose objects are not in the
// store and returns how many.
func (r *Repo) dropMissingKeys(ctx context.Context) (int, error) {
	objs, err := r.storeObjects(ctx)
	if err != nil {
		return 0, err
	}
	b := r.db.NewBatch()
	defer b.Close()
	n := 0
	err = r.chunkSizes(func(id ChunkID, _ int64) {
		if _, ok := findObj(objs, id); !ok {
			b.Delete(format.ChunkKey(id), nil)
			n++
		}
	})
	if err != nil || n == 0 {
		return 0, err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return 0, err
	}
	return n, nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, fileMode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
