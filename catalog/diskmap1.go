package catalog

import (
	"context"
	"fmt"

	"github.com/vmarchive/vmarchive/catalog/format"
)

// mapV1 is a format-1 map: fixed-size chunks at multiples of chunkSize, a
// root listing leaves of format.LeafFanout chunk ids each (doc.go).
type mapV1 struct {
	root      ChunkID
	size      int64
	chunkSize int
	chunks    int64
	leaves    []ChunkID
}

func (r *Repo) openV1(ctx context.Context, chunkSize int, d *DiskRecord) (*mapV1, error) {
	m := &mapV1{root: d.Map, size: d.Size, chunkSize: chunkSize, chunks: format.ChunkCount(d.Size, chunkSize)}
	nl := int(format.LeafCount(m.chunks))
	if d.Map.IsZero() {
		m.leaves = make([]ChunkID, nl)
		return m, nil
	}
	b, err := r.readBlob(ctx, d.Map, 5+32*nl)
	if err != nil {
		return nil, fmt.Errorf("disk %s map root: %w", d.Name, err)
	}
	if m.leaves, err = format.DecodeBlock(b, format.BlockRoot, nl); err != nil {
		return nil, fmt.Errorf("disk %s map root %s: %w", d.Name, d.Map, err)
	}
	return m, nil
}

// extent is chunk i as an extent.
func (m *mapV1) extent(i int64, id ChunkID) Extent {
	off := i * int64(m.chunkSize)
	return Extent{Off: off, Len: min(int64(m.chunkSize), m.size-off), ID: id}
}

func (m *mapV1) leaf(ctx context.Context, r *Repo, li int64) ([]ChunkID, error) {
	n := format.LeafLen(m.chunks, li)
	id := m.leaves[li]
	if id.IsZero() {
		return make([]ChunkID, n), nil
	}
	return r.leaf(ctx, id, n)
}

func (m *mapV1) lookup(ctx context.Context, r *Repo, off int64) (Extent, error) {
	i := off / int64(m.chunkSize)
	ids, err := m.leaf(ctx, r, i/format.LeafFanout)
	if err != nil {
		return Extent{}, err
	}
	return m.extent(i, ids[i%format.LeafFanout]), nil
}

func (m *mapV1) extents(ctx context.Context, r *Repo, from, to int64, fn func(Extent) error) error {
	cs := int64(m.chunkSize)
	for i := from / cs; i*cs < to; {
		li := i / format.LeafFanout
		ids, err := m.leaf(ctx, r, li)
		if err != nil {
			return err
		}
		for ; i/format.LeafFanout == li && i*cs < to; i++ {
			if err := fn(m.extent(i, ids[i%format.LeafFanout])); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *mapV1) walk(ctx context.Context, r *Repo, o walkOptions, block func(string, ChunkID, error) (bool, error), data func(Extent) error) error {
	if m.root.IsZero() {
		return nil
	}
	if ok, err := block("map root", m.root, nil); err != nil || !ok {
		return err
	}
	for li, lid := range m.leaves {
		if lid.IsZero() || o.seen[lid] {
			continue
		}
		ids, err := m.readLeaf(ctx, r, int64(li), o.noCache)
		ok, berr := block("map leaf", lid, err)
		if berr != nil {
			return berr
		}
		if err != nil || !ok {
			continue
		}
		if o.seen != nil {
			o.seen[lid] = true
		}
		if data == nil {
			continue
		}
		for j, id := range ids {
			if !id.IsZero() {
				if err := data(m.extent(int64(li)*format.LeafFanout+int64(j), id)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// readLeaf reads leaf li, past the cache when noCache.
func (m *mapV1) readLeaf(ctx context.Context, r *Repo, li int64, noCache bool) ([]ChunkID, error) {
	if !noCache {
		ids, err := m.leaf(ctx, r, li)
		if err != nil {
			return nil, fmt.Errorf("map leaf %d: %w", li, err)
		}
		return ids, nil
	}
	n := format.LeafLen(m.chunks, li)
	b, err := r.fetch(ctx, m.leaves[li], 5+32*n)
	if err == nil {
		var ids []ChunkID
		if ids, err = format.DecodeBlock(b, format.BlockLeaf, n); err == nil {
			return ids, nil
		}
	}
	return nil, fmt.Errorf("map leaf %d: %w", li, err)
}

// The index-based methods below serve format-1 maps only, for ingest until
// it appends extents; they go away with MapBuilder.Set.

// Chunks returns the number of chunks in a format-1 disk.
func (m *DiskMap) Chunks() int64 { return m.v1.chunks }

// ChunkSize returns the chunk size of a format-1 map.
func (m *DiskMap) ChunkSize() int { return m.v1.chunkSize }

// Leaves returns the leaf block IDs of a format-1 map; callers must not
// modify them.
func (m *DiskMap) Leaves() []ChunkID { return m.v1.leaves }

// Leaf returns the chunk IDs of leaf i of a format-1 map.
func (m *DiskMap) Leaf(ctx context.Context, i int64) ([]ChunkID, error) {
	return m.v1.leaf(ctx, m.repo, i)
}

// Chunk returns the ID of chunk i of a format-1 map.
func (m *DiskMap) Chunk(ctx context.Context, i int64) (ChunkID, error) {
	if i < 0 || i >= m.v1.chunks {
		return ZeroID, fmt.Errorf("chunk %d out of range [0,%d)", i, m.v1.chunks)
	}
	e, err := m.v1.lookup(ctx, m.repo, i*int64(m.v1.chunkSize))
	return e.ID, err
}

// ChunkLen is the plaintext length of chunk i of a format-1 map.
func (m *DiskMap) ChunkLen(i int64) int { return int(m.v1.extent(i, ZeroID).Len) }

// MapBuilder builds the map of a disk being ingested, storing each block as
// soon as it is complete, so memory stays small for huge disks: extents
// appended in disk order (format 2), or chunk ids set by index (format 1).
type MapBuilder struct {
	v2     *mapBuilderV2
	w      *Writer
	chunks int64
	leaves []ChunkID
	open   map[int64]*openLeaf // guarded by the caller: Set is not concurrent
}

type openLeaf struct {
	ids  []ChunkID
	left int
}

// NewMapBuilder starts a map for a disk of size bytes.
func (w *Writer) NewMapBuilder(size int64) *MapBuilder {
	if c := w.repo.cfg.Chunking; c != nil {
		return &MapBuilder{v2: &mapBuilderV2{w: w, size: size, maxChunk: c.Max}}
	}
	chunks := format.ChunkCount(size, w.repo.cfg.ChunkSize)
	return &MapBuilder{w: w, chunks: chunks, leaves: make([]ChunkID, format.LeafCount(chunks)), open: map[int64]*openLeaf{}}
}

// Set records chunk i's ID; each index must be set exactly once.
func (b *MapBuilder) Set(ctx context.Context, i int64, id ChunkID) error {
	if b.v2 != nil {
		return fmt.Errorf("set chunk %d of a format-2 map: append extents", i)
	}
	li := i / format.LeafFanout
	l := b.open[li]
	if l == nil {
		n := format.LeafLen(b.chunks, li)
		l = &openLeaf{ids: make([]ChunkID, n), left: n}
		b.open[li] = l
	}
	l.ids[i%format.LeafFanout] = id
	l.left--
	if l.left > 0 {
		return nil
	}
	delete(b.open, li)
	lid, err := b.storeBlock(ctx, format.BlockLeaf, l.ids)
	if err != nil {
		return fmt.Errorf("store map leaf %d: %w", li, err)
	}
	b.leaves[li] = lid
	return nil
}

func (b *MapBuilder) storeBlock(ctx context.Context, kind byte, ids []ChunkID) (ChunkID, error) {
	zero := true
	for i := range ids {
		if !ids[i].IsZero() {
			zero = false
			break
		}
	}
	if zero {
		return ZeroID, nil
	}
	id, _, err := b.w.add(ctx, format.EncodeBlock(kind, ids))
	return id, err
}

// Finish stores the map's last blocks and returns its root's ID (ZeroID
// for a disk of zeros or of no bytes).
func (b *MapBuilder) Finish(ctx context.Context) (ChunkID, error) {
	if b.v2 != nil {
		return b.v2.finish(ctx)
	}
	if len(b.open) != 0 {
		return ZeroID, fmt.Errorf("map incomplete: %d leaves still open", len(b.open))
	}
	return b.storeBlock(ctx, format.BlockRoot, b.leaves)
}
