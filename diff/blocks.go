package diff

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/vmarchive/vmarchive/catalog"
)

// extent is a byte range [off, off+n).
type extent struct{ off, n int64 }

func (e extent) end() int64 { return e.off + e.n }

// appendExtent adds e to a sorted list, merging it with the last one when
// they touch.
func appendExtent(es []extent, e extent) []extent {
	if k := len(es) - 1; k >= 0 && es[k].end() == e.off {
		es[k].n += e.n
		return es
	}
	return append(es, e)
}

// changedChunks lists the ranges where two disk maps may differ (whole
// extents). Map blocks equal in both are skipped without being read, so the
// cost grows with the changes, not with the disk. What only one disk holds
// counts when it holds data: growing a disk by zeros changes its size, not
// its bytes.
func changedChunks(ctx context.Context, a, b *catalog.DiskMap) ([]extent, error) {
	var out []extent
	err := catalog.ChangedExtents(ctx, a, b, func(off, n int64) error {
		out = append(out, extent{off, n})
		return nil
	})
	return out, err
}

// refinePiece bounds the bytes of each side one worker of refine holds.
const refinePiece = 4 << 20

// refine narrows changed ranges to the blocks of bs bytes that differ,
// reading only the changed extents of both sides, a few at a time.
func refine(ctx context.Context, repo *catalog.Repo, a, b *catalog.DiskMap, changed []extent, bs int64) ([]extent, error) {
	size := max(a.Size(), b.Size())
	var pieces []extent
	for _, e := range changed {
		off, end := e.off/bs*bs, min((e.end()+bs-1)/bs*bs, size)
		for ; off < end; off += refinePiece {
			pieces = append(pieces, extent{off, min(refinePiece, end-off)})
		}
	}
	found := make([][]extent, len(pieces))
	errs := make([]error, len(pieces))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(4, len(pieces)) {
		wg.Go(func() {
			for k := range next {
				found[k], errs[k] = refinePiece1(ctx, repo, a, b, pieces[k], bs)
			}
		})
	}
	for k := range pieces {
		if ctx.Err() != nil {
			break
		}
		next <- k
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []extent
	for k := range pieces {
		if errs[k] != nil {
			return nil, errs[k]
		}
		for _, e := range found[k] {
			out = appendExtent(out, e)
		}
	}
	return out, nil
}

func refinePiece1(ctx context.Context, repo *catalog.Repo, a, b *catalog.DiskMap, p extent, bs int64) ([]extent, error) {
	da, err := readRange(ctx, repo, a, p)
	if err != nil {
		return nil, fmt.Errorf("point A: %w", err)
	}
	db, err := readRange(ctx, repo, b, p)
	if err != nil {
		return nil, fmt.Errorf("point B: %w", err)
	}
	var out []extent
	for off := int64(0); off < int64(max(len(da), len(db))); off += bs {
		x, y := window(da, off, bs), window(db, off, bs)
		if len(x) != len(y) && allZero(x) && allZero(y) {
			continue // past the end of the shorter disk, zeros either way
		}
		if !bytes.Equal(x, y) {
			out = appendExtent(out, extent{p.off + off, int64(max(len(x), len(y)))})
		}
	}
	return out, nil
}

// readRange reads the bytes of p that lie on m's disk (fewer past its end),
// each chunk past the cache.
func readRange(ctx context.Context, repo *catalog.Repo, m *catalog.DiskMap, p extent) ([]byte, error) {
	end := min(p.end(), m.Size())
	if end <= p.off {
		return nil, nil
	}
	buf := make([]byte, end-p.off)
	err := m.Extents(ctx, p.off, end, func(e catalog.Extent) error {
		if e.ID.IsZero() {
			return nil
		}
		d, err := repo.ReadChunk(ctx, e.ID, m.MaxChunk())
		if err != nil {
			return fmt.Errorf("chunk %s at disk offset %d: %w", e.ID, e.Off, err)
		}
		if int64(len(d)) != e.Len {
			return fmt.Errorf("chunk %s at disk offset %d: %d bytes, want %d", e.ID, e.Off, len(d), e.Len)
		}
		lo, hi := max(e.Off, p.off), min(e.End(), end)
		copy(buf[lo-p.off:hi-p.off], d[lo-e.Off:])
		return nil
	})
	return buf, err
}

func window(b []byte, off, n int64) []byte {
	if off >= int64(len(b)) {
		return nil
	}
	return b[off:min(int64(len(b)), off+n)]
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
