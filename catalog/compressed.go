package catalog

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vmarchive/vmarchive/catalog/format"
)

// ChunkStoredSize returns the size of chunk id's content as stored: its
// zstd frame, or its plain bytes when zstd could not shrink it below 97%
// (then the size equals the extent's length in the map). The catalog's
// chunk key holds the stored object's size; the encoding byte and an
// encrypted repository's seal are taken off. Nothing is read from the
// store. known is false when the catalog has no key for the chunk.
func (r *Repo) ChunkStoredSize(id ChunkID) (n int64, known bool, err error) {
	v, closer, err := r.db.Get(format.ChunkKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("catalog lookup of chunk %s: %w", id, err)
	}
	defer closer.Close()
	stored, err := format.DecodeChunkValue(v)
	if err != nil {
		return 0, false, fmt.Errorf("chunk %s: %w", id, err)
	}
	overhead := int64(1)
	if r.crypt != nil {
		overhead += format.SealOverhead
	}
	return max(stored-overhead, 0), true, nil
}
