package catalog

import (
	"context"
	"fmt"

	"github.com/vmarchive/vmarchive/catalog/format"
)

// DiskMap maps chunk indexes of one disk of one point to chunk IDs.
type DiskMap struct {
	repo      *Repo
	size      int64
	chunkSize int
	chunks    int64
	leaves    []ChunkID
}

// OpenDiskMap loads the root of a disk's map; leaves load on demand.
func (r *Repo) OpenDiskMap(ctx context.Context, chunkSize int, d *DiskRecord) (*DiskMap, error) {
	m := &DiskMap{repo: r, size: d.Size, chunkSize: chunkSize, chunks: format.ChunkCount(d.Size, chunkSize)}
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

// Chunks returns the number of chunks in the disk.
func (m *DiskMap) Chunks() int64 { return m.chunks }

// Size returns the disk size in bytes.
func (m *DiskMap) Size() int64 { return m.size }

// ChunkSize returns the chunk size in bytes.
func (m *DiskMap) ChunkSize() int { return m.chunkSize }

// Leaves returns the leaf block IDs; callers must not modify them.
func (m *DiskMap) Leaves() []ChunkID { return m.leaves }

// Leaf returns the chunk IDs of leaf i.
func (m *DiskMap) Leaf(ctx context.Context, i int64) ([]ChunkID, error) {
	n := format.LeafLen(m.chunks, i)
	id := m.leaves[i]
	if id.IsZero() {
		return make([]ChunkID, n), nil
	}
	return m.repo.leaf(ctx, id, n)
}

// Chunk returns the ID of chunk i.
func (m *DiskMap) Chunk(ctx context.Context, i int64) (ChunkID, error) {
	if i < 0 || i >= m.chunks {
		return ZeroID, fmt.Errorf("chunk %d out of range [0,%d)", i, m.chunks)
	}
	l := m.leaves[i/format.LeafFanout]
	if l.IsZero() {
		return ZeroID, nil
	}
	ids, err := m.repo.leaf(ctx, l, format.LeafLen(m.chunks, i/format.LeafFanout))
	if err != nil {
		return ZeroID, err
	}
	return ids[i%format.LeafFanout], nil
}

// ChunkLen is the plaintext length of chunk i (the last may be short).
func (m *DiskMap) ChunkLen(i int64) int {
	if rest := m.size - i*int64(m.chunkSize); rest < int64(m.chunkSize) {
		return int(rest)
	}
	return m.chunkSize
}

// MapBuilder collects the chunk IDs of a disk being ingested and stores each
// leaf as soon as it is complete, so memory stays small for huge disks.
type MapBuilder struct {
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
	chunks := format.ChunkCount(size, w.repo.cfg.ChunkSize)
	return &MapBuilder{w: w, chunks: chunks, leaves: make([]ChunkID, format.LeafCount(chunks)), open: map[int64]*openLeaf{}}
}

// Set records chunk i's ID; each index must be set exactly once.
func (b *MapBuilder) Set(ctx context.Context, i int64, id ChunkID) error {
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

// Finish stores the root and returns its ID.
func (b *MapBuilder) Finish(ctx context.Context) (ChunkID, error) {
	if len(b.open) != 0 {
		return ZeroID, fmt.Errorf("map incomplete: %d leaves still open", len(b.open))
	}
	return b.storeBlock(ctx, format.BlockRoot, b.leaves)
}
