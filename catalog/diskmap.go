package catalog

import (
	"context"
	"encoding/binary"
	"fmt"
)

// A disk's chunk map is a two-level tree of content-addressed blocks: the
// root block lists leaf block IDs, each leaf lists the IDs of leafFanout
// consecutive chunks. Points that share unchanged regions share leaves, and
// two points are compared leaf by leaf without reading equal ones. A leaf
// (or chunk) of zeros is ZeroID and is not stored.
const leafFanout = 1024

// Block kinds, the first byte of a map block.
const (
	blockLeaf = 1
	blockRoot = 2
)

// MaxDiskSize bounds disk sizes (64 TiB, VMDK's largest) so hostile input
// cannot make us allocate absurd maps.
const MaxDiskSize = 64 << 40

func encodeBlock(kind byte, ids []ChunkID) []byte {
	b := make([]byte, 0, 5+32*len(ids))
	b = append(b, kind)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(ids)))
	for i := range ids {
		b = append(b, ids[i][:]...)
	}
	return b
}

func decodeBlock(b []byte, kind byte, want int) ([]ChunkID, error) {
	if len(b) < 5 || b[0] != kind {
		return nil, fmt.Errorf("map block: bad header: %w", ErrCorrupt)
	}
	n := int(binary.LittleEndian.Uint32(b[1:5]))
	if n != want || len(b) != 5+32*n {
		return nil, fmt.Errorf("map block: %d entries in %d bytes, want %d: %w", n, len(b), want, ErrCorrupt)
	}
	ids := make([]ChunkID, n)
	for i := range ids {
		copy(ids[i][:], b[5+32*i:])
	}
	return ids, nil
}

// chunkCount is the number of chunks of a disk of size bytes.
func chunkCount(size int64, chunkSize int) int64 {
	return (size + int64(chunkSize) - 1) / int64(chunkSize)
}

func leafCount(chunks int64) int64 { return (chunks + leafFanout - 1) / leafFanout }

// leafLen is the number of entries of leaf i.
func leafLen(chunks, i int64) int {
	if rest := chunks - i*leafFanout; rest < leafFanout {
		return int(rest)
	}
	return leafFanout
}

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
	m := &DiskMap{repo: r, size: d.Size, chunkSize: chunkSize, chunks: chunkCount(d.Size, chunkSize)}
	nl := int(leafCount(m.chunks))
	if d.Map.IsZero() {
		m.leaves = make([]ChunkID, nl)
		return m, nil
	}
	b, err := r.readBlob(ctx, d.Map, 5+32*nl)
	if err != nil {
		return nil, fmt.Errorf("disk %s map root: %w", d.Name, err)
	}
	if m.leaves, err = decodeBlock(b, blockRoot, nl); err != nil {
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
	n := leafLen(m.chunks, i)
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
	l := m.leaves[i/leafFanout]
	if l.IsZero() {
		return ZeroID, nil
	}
	ids, err := m.repo.leaf(ctx, l, leafLen(m.chunks, i/leafFanout))
	if err != nil {
		return ZeroID, err
	}
	return ids[i%leafFanout], nil
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
	chunks := chunkCount(size, w.repo.cfg.ChunkSize)
	return &MapBuilder{w: w, chunks: chunks, leaves: make([]ChunkID, leafCount(chunks)), open: map[int64]*openLeaf{}}
}

// Set records chunk i's ID; each index must be set exactly once.
func (b *MapBuilder) Set(ctx context.Context, i int64, id ChunkID) error {
	li := i / leafFanout
	l := b.open[li]
	if l == nil {
		n := leafLen(b.chunks, li)
		l = &openLeaf{ids: make([]ChunkID, n), left: n}
		b.open[li] = l
	}
	l.ids[i%leafFanout] = id
	l.left--
	if l.left > 0 {
		return nil
	}
	delete(b.open, li)
	lid, err := b.storeBlock(ctx, blockLeaf, l.ids)
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
	id, _, err := b.w.add(ctx, encodeBlock(kind, ids))
	return id, err
}

// Finish stores the root and returns its ID.
func (b *MapBuilder) Finish(ctx context.Context) (ChunkID, error) {
	if len(b.open) != 0 {
		return ZeroID, fmt.Errorf("map incomplete: %d leaves still open", len(b.open))
	}
	return b.storeBlock(ctx, blockRoot, b.leaves)
}
