package fat

import (
	"fmt"
	"io"
	"sync"
)

// The FAT is read in fatBlockSize blocks, of which each FS keeps the
// fatCacheBlocks most recently used (128 KiB). Small blocks suit the
// scattered chains a FUSE client asks for. A FAT12 FAT (at most 6 KiB of
// used entries) is read as one block, so no entry straddles two blocks.
const (
	fatBlockSize   = 4 << 10
	fatCacheBlocks = 32
)

// fatTable reads entries of the active FAT through a small LRU.
type fatTable struct {
	r         io.ReaderAt
	l         *layout
	size      int64 // bytes of the image, to report truncation clearly
	blockSize int64

	mu struct {
		sync.Mutex
		blocks [fatCacheBlocks]fatBlock // guarded by mu
		tick   uint64                   // guarded by mu
	}
}

type fatBlock struct {
	index int64 // block number within the FAT; -1 = empty
	data  []byte
	used  uint64
}

func newFATTable(r io.ReaderAt, size int64, l *layout) *fatTable {
	t := &fatTable{r: r, l: l, size: size, blockSize: fatBlockSize}
	if l.fatBits == 12 {
		t.blockSize = (int64(maxFAT12Clusters+2)*3/2 + 511) / 512 * 512
	}
	for i := range t.mu.blocks {
		t.mu.blocks[i].index = -1
	}
	return t
}

// entry returns the FAT entry of cluster c (its successor or a marker).
func (t *fatTable) entry(c uint32) (uint32, error) {
	var cur blockRef
	return t.entryVia(c, &cur)
}

// blockRef remembers the last FAT block a walk used, so following a chain
// through one block takes no lock.
type blockRef struct {
	index int64
	data  []byte
}

// entryVia is entry, reusing (and updating) the block in cur.
func (t *fatTable) entryVia(c uint32, cur *blockRef) (uint32, error) {
	var off int64
	switch t.l.fatBits {
	case 12:
		off = int64(c) + int64(c)/2
	case 16:
		off = int64(c) * 2
	default:
		off = int64(c) * 4
	}
	width := int64(2) // a FAT12 entry spans two bytes too
	if t.l.fatBits == 32 {
		width = 4
	}
	if off+width > t.l.fatSize {
		return 0, fmt.Errorf("FAT entry of cluster %d at FAT offset %d: beyond the FAT (%d bytes): %w", c, off, t.l.fatSize, ErrCorrupt)
	}
	n := off / t.blockSize
	if cur.data == nil || cur.index != n {
		blk, err := t.block(n)
		if err != nil {
			return 0, err
		}
		*cur = blockRef{index: n, data: blk}
	}
	blk := cur.data
	i := off % t.blockSize
	if i+width > int64(len(blk)) {
		return 0, fmt.Errorf("FAT entry of cluster %d at volume offset %d: beyond the end of the image (%d bytes): %w",
			c, t.l.fatOffset+off, t.size, ErrCorrupt)
	}
	return decodeFATEntry(blk[i:], t.l.fatBits, c), nil
}

// decodeFATEntry decodes one entry from p, which starts at its first byte.
func decodeFATEntry(p []byte, bits int, c uint32) uint32 {
	switch bits {
	case 12:
		v := uint32(p[0]) | uint32(p[1])<<8
		if c&1 != 0 {
			return v >> 4
		}
		return v & 0xFFF
	case 16:
		return uint32(p[0]) | uint32(p[1])<<8
	default:
		return (uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16 | uint32(p[3])<<24) & 0x0FFFFFFF
	}
}

// block returns FAT block n, reading it on a miss. The read happens outside
// the lock so parallel readers of different blocks do not wait on each other.
func (t *fatTable) block(n int64) ([]byte, error) {
	t.mu.Lock()
	t.mu.tick++
	for i := range t.mu.blocks {
		if b := &t.mu.blocks[i]; b.index == n {
			b.used = t.mu.tick
			data := b.data
			t.mu.Unlock()
			return data, nil
		}
	}
	t.mu.Unlock()

	data, err := t.readBlock(n)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	victim := &t.mu.blocks[0]
	for i := range t.mu.blocks {
		if b := &t.mu.blocks[i]; b.used < victim.used {
			victim = b
		}
	}
	t.mu.tick++
	*victim = fatBlock{index: n, data: data, used: t.mu.tick}
	return data, nil
}

// readBlock reads FAT block n. A block cut short by the end of the image
// is returned short; entry reports the truncation.
func (t *fatTable) readBlock(n int64) ([]byte, error) {
	start := n * t.blockSize
	length := min(t.blockSize, t.l.fatSize-start)
	off := t.l.fatOffset + start
	if off+length > t.size {
		length = max(0, t.size-off)
	}
	buf := make([]byte, length)
	if _, err := t.r.ReadAt(buf, off); err != nil && err != io.EOF {
		return nil, fmt.Errorf("read FAT at volume offset %d: %w", off, err)
	}
	return buf, nil
}

// Markers of a FAT entry, by FAT width.
func (t *fatTable) eocMin() uint32 {
	switch t.l.fatBits {
	case 12:
		return 0xFF8
	case 16:
		return 0xFFF8
	}
	return 0x0FFFFFF8
}

func (t *fatTable) badMark() uint32 { return t.eocMin() - 1 }
