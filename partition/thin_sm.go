package partition

import (
	"encoding/binary"
	"fmt"
)

// The data space map counts references to each pool data block: a btree
// (keyed by bitmap number) of disk_index_entry values pointing at bitmap
// blocks that hold 2 bits per data block (0 free, 1, 2, 3 = more, kept in
// another btree). A mapping to a block the space map calls free means the
// metadata is stale or damaged, so reading it is refused.

// allocated reports whether the data space map counts data block b as used.
func (p *thinPool) allocated(b uint64) (bool, error) {
	idx, bit := b/thinBitmapEntries, b%thinBitmapEntries
	v, ok, err := p.meta.lookup(p.sb.DataSM.BitmapRoot, idx, thinIndexEntrySize)
	if err != nil {
		return false, fmt.Errorf("data space map: %w", err)
	}
	if !ok {
		return false, corruptf("%s: data space map has no bitmap for data block %d", p.meta.where, b)
	}
	bm, err := p.meta.bitmap(binary.LittleEndian.Uint64(v))
	if err != nil {
		return false, err
	}
	// sm_lookup_bitmap: entry k of a little-endian 64-bit word is bits 2k
	// (high) and 2k+1 (low).
	w := binary.LittleEndian.Uint64(bm[thinBitmapHeader+bit/32*8:])
	return w>>(bit%32*2)&3 != 0, nil
}

// bitmap reads, checks and caches the space map bitmap block b.
func (m *thinMeta) bitmap(b uint64) ([]byte, error) {
	m.mu.Lock()
	bm, ok := m.bitmaps[b]
	m.mu.Unlock()
	if ok {
		return bm, nil
	}
	if b == 0 || b >= m.blocks {
		return nil, corruptf("%s: space map bitmap at block %d, outside blocks 1-%d", m.where, b, m.blocks-1)
	}
	bm, err := readAt(m.r, int64(b)*thinBlockSize, thinBlockSize, m.where+" space map bitmap")
	if err != nil {
		return nil, err
	}
	at := fmt.Sprintf("%s: space map bitmap at block %d (byte %d)", m.where, b, b*thinBlockSize)
	if sum, want := thinChecksum(bm, thinBitmapCsumXor), binary.LittleEndian.Uint32(bm); sum != want {
		return nil, corruptf("%s: checksum %#08x, bitmap says %#08x", at, sum, want)
	}
	if n := binary.LittleEndian.Uint64(bm[8:]); n != b {
		return nil, corruptf("%s: says it is block %d", at, n)
	}
	m.mu.Lock()
	if len(m.bitmaps) >= thinBitmapCache {
		for k := range m.bitmaps {
			delete(m.bitmaps, k)
			break
		}
	}
	m.bitmaps[b] = bm
	m.mu.Unlock()
	return bm, nil
}
