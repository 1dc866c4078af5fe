package catalog

import (
	"context"
	"fmt"

	"github.com/vmarchive/vmarchive/catalog/format"
)

// mapBuilderV2 builds a format-2 map as extents are appended, storing each
// block as soon as it ends: memory is one open block per tree level.
type mapBuilderV2 struct {
	w        *Writer
	size     int64
	maxChunk int
	pos      int64               // where the next extent starts
	pend     Extent              // the last extent, held back to merge holes
	levels   [][]format.MapEntry // open block of each level, leaves first
	stored   bool                // a block was stored
}

// Append adds the next extent: contiguous with the last, data of at most
// the repository's largest chunk, aligned to format.MapAlign but at the
// disk's end. Holes may come in any lengths; adjacent ones merge.
func (b *MapBuilder) Append(ctx context.Context, e Extent) error {
	v := b.v2
	if v == nil {
		return fmt.Errorf("append to a map of a format-1 repository: ingest needs format 2 (copy the repository into a new one)")
	}
	switch {
	case e.Off != v.pos || e.Len <= 0 || e.Len > v.size-e.Off:
		return fmt.Errorf("map: extent [%d,+%d) does not follow %d within the disk of %d bytes", e.Off, e.Len, v.pos, v.size)
	case !e.ID.IsZero() && e.Len > int64(v.maxChunk):
		return fmt.Errorf("map: extent at %d of %d bytes exceeds the largest chunk %d", e.Off, e.Len, v.maxChunk)
	}
	v.pos = e.End()
	if v.pend.Len > 0 && v.pend.ID.IsZero() && e.ID.IsZero() {
		v.pend.Len += e.Len
		return nil
	}
	if err := v.push(ctx, v.pend); err != nil {
		return err
	}
	v.pend = e
	return nil
}

// push adds extent e (none when empty) to the open leaf.
func (v *mapBuilderV2) push(ctx context.Context, e Extent) error {
	if e.Len == 0 {
		return nil
	}
	if e.Len%format.MapAlign != 0 && e.End() != v.size {
		return fmt.Errorf("map: extent at %d of %d bytes is not a multiple of %d and not the disk's last", e.Off, e.Len, format.MapAlign)
	}
	return v.add(ctx, 0, format.MapEntry{Len: e.Len, ID: e.ID})
}

// add appends an entry to the open block of level i (0 = leaves), ending
// the block after a boundary entry.
func (v *mapBuilderV2) add(ctx context.Context, i int, me format.MapEntry) error {
	if i == len(v.levels) {
		if i >= format.MapMaxLevel {
			return fmt.Errorf("map: more than %d levels", format.MapMaxLevel)
		}
		v.levels = append(v.levels, make([]format.MapEntry, 0, format.MapBlockMax))
	}
	v.levels[i] = append(v.levels[i], me)
	if n := len(v.levels[i]); n >= format.MapBlockMax || n >= format.MapBlockMin && format.MapBoundary(me) {
		return v.flush(ctx, i)
	}
	return nil
}

// flush stores the open block of level i and adds it to its parent.
func (v *mapBuilderV2) flush(ctx context.Context, i int) error {
	es := v.levels[i]
	var total int64
	for _, e := range es {
		total += e.Len
	}
	id, _, err := v.w.add(ctx, format.EncodeMapBlock(i+1, es))
	if err != nil {
		return fmt.Errorf("store map block: %w", err)
	}
	v.stored = true
	v.levels[i] = es[:0]
	return v.add(ctx, i+1, format.MapEntry{Len: total, ID: id})
}

func (v *mapBuilderV2) finish(ctx context.Context) (ChunkID, error) {
	if v.pos != v.size {
		return ZeroID, fmt.Errorf("map incomplete: extents cover %d of %d bytes", v.pos, v.size)
	}
	if !v.stored && len(v.levels) == 0 && (v.pend.Len == 0 || v.pend.ID.IsZero()) {
		return ZeroID, nil // no bytes, or zeros only: nothing stored
	}
	if err := v.push(ctx, v.pend); err != nil {
		return ZeroID, err
	}
	v.pend = Extent{}
	for i := 0; i < len(v.levels); i++ {
		if top := i == len(v.levels)-1; top && i > 0 && len(v.levels[i]) == 1 {
			return v.levels[i][0].ID, nil
		}
		if len(v.levels[i]) > 0 {
			if err := v.flush(ctx, i); err != nil {
				return ZeroID, err
			}
		}
	}
	return ZeroID, fmt.Errorf("map: no root") // not reached: the loop ends at a single top entry
}
