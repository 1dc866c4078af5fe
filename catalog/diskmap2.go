package catalog

import (
	"context"
	"fmt"
	"sort"

	"github.com/vmarchive/vmarchive/catalog/format"
)

// mapV2 is a format-2 map: a tree of content-defined blocks (format/mapblock.go).
type mapV2 struct {
	root *mapNode // nil for a disk of zeros or of no bytes
	rid  ChunkID
}

// mapNode is a decoded map block: offs[i] is where entry i starts, relative
// to the block's start; offs[len(ids)] is the block's length.
type mapNode struct {
	level int
	offs  []int64
	ids   []ChunkID
}

func (n *mapNode) size() int64 { return 8*int64(len(n.offs)) + 32*int64(len(n.ids)) + 64 }

func newMapNode(b *format.MapBlock) *mapNode {
	n := &mapNode{level: b.Level, offs: make([]int64, len(b.Entries)+1), ids: make([]ChunkID, len(b.Entries))}
	for i, e := range b.Entries {
		n.offs[i+1] = n.offs[i] + e.Len
		n.ids[i] = e.ID
	}
	return n
}

// find returns the entry holding rel (0 <= rel < the block's length).
func (n *mapNode) find(rel int64) int {
	return sort.Search(len(n.ids), func(i int) bool { return n.offs[i+1] > rel })
}

func (r *Repo) openV2(ctx context.Context, d *DiskRecord) (*mapV2, error) {
	m := &mapV2{rid: d.Map}
	if d.Map.IsZero() {
		return m, nil
	}
	n, err := r.mapNode(ctx, d.Map, false)
	if err != nil {
		return nil, fmt.Errorf("disk %s map root: %w", d.Name, err)
	}
	if n.offs[len(n.ids)] != d.Size {
		return nil, fmt.Errorf("disk %s map root %s covers %d bytes, the disk has %d: %w", d.Name, d.Map, n.offs[len(n.ids)], d.Size, ErrCorrupt)
	}
	m.root = n
	return m, nil
}

// mapNode returns the decoded map block id, cached beside its bytes unless
// noCache.
func (r *Repo) mapNode(ctx context.Context, id ChunkID, noCache bool) (*mapNode, error) {
	if !noCache {
		r.cache.mu.Lock()
		n, ok := r.cache.nodes[id]
		r.cache.mu.Unlock()
		if ok {
			return n, nil
		}
	}
	var b []byte
	var err error
	if noCache {
		b, err = r.fetch(ctx, id, format.MaxMapBlockSize)
	} else {
		b, err = r.readBlob(ctx, id, format.MaxMapBlockSize)
	}
	if err != nil {
		return nil, fmt.Errorf("map block: %w", err)
	}
	blk, err := format.DecodeMapBlock(b)
	if err != nil {
		return nil, fmt.Errorf("map block %s: %w", id, err)
	}
	n := newMapNode(blk)
	if !noCache {
		r.cache.mu.Lock()
		if _, ok := r.cache.items[id]; ok {
			r.cache.nodes[id] = n
		}
		r.cache.mu.Unlock()
	}
	return n, nil
}

// child returns child i of inner node n, checking it has the level and
// length n says.
func (r *Repo) child(ctx context.Context, n *mapNode, i int, noCache bool) (*mapNode, error) {
	c, err := r.mapNode(ctx, n.ids[i], noCache)
	if err != nil {
		return nil, err
	}
	if want := n.offs[i+1] - n.offs[i]; c.level != n.level-1 || c.offs[len(c.ids)] != want {
		return nil, fmt.Errorf("map block %s: level %d covering %d bytes, its parent says level %d covering %d: %w",
			n.ids[i], c.level, c.offs[len(c.ids)], n.level-1, want, ErrCorrupt)
	}
	return c, nil
}

// extent is entry i of leaf n that starts at base, checked: only a disk's
// last extent may have an unaligned length.
func (m *DiskMap) leafExtent(n *mapNode, base int64, i int) (Extent, error) {
	e := Extent{Off: base + n.offs[i], Len: n.offs[i+1] - n.offs[i], ID: n.ids[i]}
	if e.Len%format.MapAlign != 0 && e.End() != m.size {
		return e, fmt.Errorf("disk %s: extent at %d of %d bytes, not a multiple of %d, is not the disk's last: %w", m.name, e.Off, e.Len, format.MapAlign, ErrCorrupt)
	}
	if !e.ID.IsZero() && e.Len > int64(m.maxChunk) {
		return e, fmt.Errorf("disk %s: extent at %d of %d bytes exceeds the largest chunk %d: %w", m.name, e.Off, e.Len, m.maxChunk, ErrCorrupt)
	}
	return e, nil
}

func (m *DiskMap) lookupV2(ctx context.Context, off int64) (Extent, error) {
	n, base := m.v2.root, int64(0)
	for n.level > 1 {
		i := n.find(off - base)
		c, err := m.repo.child(ctx, n, i, false)
		if err != nil {
			return Extent{}, err
		}
		n, base = c, base+n.offs[i]
	}
	return m.leafExtent(n, base, n.find(off-base))
}

func (m *DiskMap) extentsV2(ctx context.Context, n *mapNode, base, from, to int64, fn func(Extent) error) error {
	for i := n.find(max(from-base, 0)); i < len(n.ids) && base+n.offs[i] < to; i++ {
		if n.level == 1 {
			e, err := m.leafExtent(n, base, i)
			if err != nil {
				return err
			}
			if err := fn(e); err != nil {
				return err
			}
			continue
		}
		c, err := m.repo.child(ctx, n, i, false)
		if err != nil {
			return err
		}
		if err := m.extentsV2(ctx, c, base+n.offs[i], from, to, fn); err != nil {
			return err
		}
	}
	return nil
}

func (m *DiskMap) walkV2(ctx context.Context, o walkOptions, block func(string, ChunkID, error) (bool, error), data func(Extent) error) error {
	if m.v2.root == nil {
		return nil
	}
	if ok, err := block("map block", m.v2.rid, nil); err != nil || !ok {
		return err
	}
	if o.seen != nil {
		o.seen[m.v2.rid] = true
	}
	return m.walkNode(ctx, m.v2.root, 0, o, block, data)
}

func (m *DiskMap) walkNode(ctx context.Context, n *mapNode, base int64, o walkOptions, block func(string, ChunkID, error) (bool, error), data func(Extent) error) error {
	for i, id := range n.ids {
		off := base + n.offs[i]
		if n.level == 1 {
			if id.IsZero() || data == nil {
				continue
			}
			e, err := m.leafExtent(n, base, i)
			if err != nil {
				if _, err := block("map block", id, err); err != nil {
					return err
				}
				return nil
			}
			if err := data(e); err != nil {
				return err
			}
			continue
		}
		if o.seen[id] {
			continue
		}
		c, err := m.repo.child(ctx, n, i, o.noCache)
		ok, berr := block("map block", id, err)
		if berr != nil {
			return berr
		}
		if err != nil || !ok {
			continue
		}
		if o.seen != nil {
			o.seen[id] = true
		}
		if err := m.walkNode(ctx, c, off, o, block, data); err != nil {
			return err
		}
	}
	return nil
}
