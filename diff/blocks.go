package diff

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/format"
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

// changedChunks lists the chunks whose IDs differ between two disk maps,
// as byte ranges. Leaves with equal IDs are skipped without being read, so
// the cost grows with the changes, not with the disk. Chunks present in one
// map only count when they hold data: growing a disk by zeros changes its
// size, not its bytes.
func changedChunks(ctx context.Context, a, b *catalog.DiskMap) ([]extent, error) {
	if a.ChunkSize() != b.ChunkSize() {
		return nil, fmt.Errorf("chunk sizes differ: %d and %d", a.ChunkSize(), b.ChunkSize())
	}
	cs := int64(a.ChunkSize())
	size := max(a.Size(), b.Size())
	la, lb := a.Leaves(), b.Leaves()
	var out []extent
	for l := 0; l < max(len(la), len(lb)); l++ {
		if l < len(la) && l < len(lb) && la[l] == lb[l] {
			continue
		}
		ia, err := leaf(ctx, a, l)
		if err != nil {
			return nil, fmt.Errorf("point A: %w", err)
		}
		ib, err := leaf(ctx, b, l)
		if err != nil {
			return nil, fmt.Errorf("point B: %w", err)
		}
		for j := 0; j < max(len(ia), len(ib)); j++ {
			x, y := catalog.ZeroID, catalog.ZeroID
			if j < len(ia) {
				x = ia[j]
			}
			if j < len(ib) {
				y = ib[j]
			}
			if x == y {
				continue
			}
			off := (int64(l)*format.LeafFanout + int64(j)) * cs
			out = appendExtent(out, extent{off, min(cs, size-off)})
		}
	}
	return out, nil
}

// leaf returns leaf l of m, or nothing past the end of m.
func leaf(ctx context.Context, m *catalog.DiskMap, l int) ([]catalog.ChunkID, error) {
	if l >= len(m.Leaves()) {
		return nil, nil
	}
	return m.Leaf(ctx, int64(l))
}

// refine narrows chunk-sized ranges to the blocks of bs bytes that differ,
// reading only the chunks that changed, a few at a time.
func refine(ctx context.Context, repo *catalog.Repo, a, b *catalog.DiskMap, changed []extent, bs int64) ([]extent, error) {
	cs := int64(a.ChunkSize())
	var chunks []int64
	for _, e := range changed {
		for off := e.off; off < e.end(); off += cs {
			chunks = append(chunks, off/cs)
		}
	}
	found := make([][]extent, len(chunks))
	errs := make([]error, len(chunks))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(4, len(chunks)) {
		wg.Go(func() {
			for k := range next {
				found[k], errs[k] = refineChunk(ctx, repo, a, b, chunks[k], bs)
			}
		})
	}
	for k := range chunks {
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
	for k := range chunks {
		if errs[k] != nil {
			return nil, errs[k]
		}
		for _, e := range found[k] {
			out = appendExtent(out, e)
		}
	}
	return out, nil
}

func refineChunk(ctx context.Context, repo *catalog.Repo, a, b *catalog.DiskMap, i, bs int64) ([]extent, error) {
	da, err := chunkData(ctx, repo, a, i)
	if err != nil {
		return nil, fmt.Errorf("point A: %w", err)
	}
	db, err := chunkData(ctx, repo, b, i)
	if err != nil {
		return nil, fmt.Errorf("point B: %w", err)
	}
	base := i * int64(a.ChunkSize())
	var out []extent
	for off := int64(0); off < int64(max(len(da), len(db))); off += bs {
		x, y := window(da, off, bs), window(db, off, bs)
		if len(x) != len(y) && allZero(x) && allZero(y) {
			continue // past the end of the shorter disk, zeros either way
		}
		if !bytes.Equal(x, y) {
			out = appendExtent(out, extent{base + off, int64(max(len(x), len(y)))})
		}
	}
	return out, nil
}

// chunkData reads chunk i of m; nil past the end, zeros for a zero chunk.
func chunkData(ctx context.Context, repo *catalog.Repo, m *catalog.DiskMap, i int64) ([]byte, error) {
	if i >= m.Chunks() {
		return nil, nil
	}
	id, err := m.Chunk(ctx, i)
	if err != nil {
		return nil, err
	}
	n := m.ChunkLen(i)
	if id.IsZero() {
		return make([]byte, n), nil
	}
	d, err := repo.ReadChunk(ctx, id, n)
	if err != nil {
		return nil, fmt.Errorf("chunk %d (%s, disk offset %d): %w", i, id, i*int64(m.ChunkSize()), err)
	}
	if len(d) != n {
		return nil, fmt.Errorf("chunk %d (%s): %d bytes, want %d", i, id, len(d), n)
	}
	return d, nil
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
