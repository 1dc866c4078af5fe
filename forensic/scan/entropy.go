package scan

import (
	"context"
	"fmt"
	"io"
	"math"

	"github.com/vmarchive/vmarchive/catalog"
)

// diskData is what a disk's new chunks hold: their bytes, what they take
// compressed, and the bytes of the ones stored raw.
type diskData struct {
	newBytes, storedBytes, rawBytes int64
}

// newData measures the chunks of disk d of point b at the ranges where
// its map differs from the same disk's in a (all of it when a has no such
// disk). Each chunk counts once however often the disk holds it; its
// compressed size comes from the catalog's chunk key, so no chunk is read.
func newData(ctx context.Context, repo *catalog.Repo, a, b *catalog.Manifest, d *catalog.DiskRecord) (*diskData, error) {
	mb, err := repo.OpenDiskMap(ctx, b, d)
	if err != nil {
		return nil, fmt.Errorf("point %s disk %q: %w", b.Name(), d.Name, err)
	}
	out := &diskData{}
	seen := map[catalog.ChunkID]bool{}
	visit := func(off, n int64) error {
		return mb.Extents(ctx, off, off+n, func(e catalog.Extent) error {
			return out.add(repo, e, seen)
		})
	}
	da, err := a.Disk(d.Name)
	if err != nil {
		return out, visit(0, mb.Size())
	}
	ma, err := repo.OpenDiskMap(ctx, a, da)
	if err != nil {
		return nil, fmt.Errorf("point %s disk %q: %w", a.Name(), d.Name, err)
	}
	if err := catalog.ChangedExtents(ctx, ma, mb, visit); err != nil {
		return nil, fmt.Errorf("compare disk %q of %s and %s: %w", d.Name, a.Name(), b.Name(), err)
	}
	return out, nil
}

func (dd *diskData) add(repo *catalog.Repo, e catalog.Extent, seen map[catalog.ChunkID]bool) error {
	if e.ID.IsZero() || seen[e.ID] {
		return nil
	}
	seen[e.ID] = true
	n, known, err := repo.ChunkStoredSize(e.ID)
	if err != nil {
		return err
	}
	if !known {
		return fmt.Errorf("chunk %s at disk offset %d is not in the catalog", e.ID, e.Off)
	}
	dd.newBytes += e.Len
	dd.storedBytes += min(n, e.Len)
	if n >= e.Len {
		dd.rawBytes += e.Len
	}
	return nil
}

// sampleSize is how much of a changed file entropy reads.
const sampleSize = 64 << 10

// highEntropy is the Shannon entropy, in bits per byte, above which a
// sample counts as encrypted or compressed (random bytes: ~8; text: ~4.5;
// machine code: ~6).
const highEntropy = 7.5

// entropy returns the Shannon entropy in bits per byte of up to
// sampleSize bytes from the start of r (of size bytes).
func entropy(r io.ReaderAt, size int64) (float64, error) {
	buf := make([]byte, min(size, sampleSize))
	if _, err := r.ReadAt(buf, 0); err != nil && err != io.EOF {
		return 0, err
	}
	var hist [256]int
	for _, c := range buf {
		hist[c]++
	}
	var h float64
	for _, n := range hist {
		if n > 0 {
			p := float64(n) / float64(len(buf))
			h -= p * math.Log2(p)
		}
	}
	return h, nil
}
