package partition

import (
	"fmt"
	"io"
)

// thinReader reads a thin volume: each chunk-sized block is looked up in
// the device's mapping tree; unmapped blocks read as zeros.
type thinReader struct {
	name string // "vg/lv"
	pool *thinPool
	root uint64 // the device's mapping tree
	size int64
}

var _ io.ReaderAt = (*thinReader)(nil)

// openThin checks thin LV lv and returns a reader over it.
func (vg *VolumeGroup) openThin(lv *LogicalVolume) (*thinReader, error) {
	name := vg.Name + "/" + lv.Name
	if len(lv.Segments) != 1 {
		return nil, corruptf("LVM metadata: thin LV %s has %d segments, want 1", name, len(lv.Segments))
	}
	seg := lv.Segments[0]
	if seg.ExternalOrigin != "" {
		return nil, unsupportedf("thin LV %s with external origin %q", name, seg.ExternalOrigin)
	}
	pool, err := vg.openThinPool(seg.ThinPool)
	if err != nil {
		return nil, fmt.Errorf("open thin LV %s: %w", name, err)
	}
	root, _, err := pool.device(seg.DeviceID)
	if err != nil {
		return nil, fmt.Errorf("open thin LV %s: %w", name, err)
	}
	return &thinReader{name: name, pool: pool, root: root, size: lv.Size}, nil
}

// isThin reports whether lv is a thin volume.
func isThin(lv *LogicalVolume) bool {
	return len(lv.Segments) > 0 && lv.Segments[0].Type == "thin"
}

// ReadAt reads [off, off+len(p)) chunk by chunk.
func (t *thinReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read thin LV %s at negative offset %d", t.name, off)
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= t.size {
			return n, io.EOF
		}
		in := pos % t.pool.chunk
		piece := p[n : n+int(min(t.pool.chunk-in, t.size-pos, int64(len(p)-n)))]
		if err := t.readChunk(piece, pos, in); err != nil {
			return n, err
		}
		n += len(piece)
	}
	return n, nil
}

// readChunk fills piece, which lies within one chunk, from LV byte pos
// (in bytes into its chunk).
func (t *thinReader) readChunk(piece []byte, pos, in int64) error {
	b, ok, err := t.pool.dataBlock(t.root, uint64(pos/t.pool.chunk))
	if err != nil {
		return fmt.Errorf("read thin LV %s at byte %d: %w", t.name, pos, err)
	}
	if !ok {
		clear(piece)
		return nil
	}
	at := int64(b)*t.pool.chunk + in
	m, err := t.pool.data.ReadAt(piece, at)
	if m == len(piece) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read thin LV %s at byte %d (pool %s data block %d): %w", t.name, pos, t.pool.name, b, err)
}
