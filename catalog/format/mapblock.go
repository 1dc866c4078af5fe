package format

import (
	"encoding/binary"
	"fmt"
)

// A format-2 disk map is a tree of content-addressed blocks. A leaf lists
// extents (length, chunk id or a hole) in disk order; an inner block lists
// child blocks (the bytes each covers, its id). Neither records offsets:
// a block's entries start where its parent says, so equal runs of extents
// make equal blocks at any offset. A block ends after an entry whose
// boundary hash has MapBlockBits low zero bits (at least MapBlockMin
// entries in, at most MapBlockMax), so block boundaries depend on the
// entries only and a changed extent changes the block holding it and
// perhaps the next, not every block after it.
//
//	block  = kind(1: MapLeaf or MapInner) level(1) count(uvarint) entries
//	leaf   entry = uvarint(length<<1 | hole) [id(32) unless hole]
//	inner  entry = uvarint(length) id(32)
//
// A leaf is level 1; an inner block's children are one level lower. Every
// length is positive and a multiple of MapAlign, except the last entry's
// (a disk whose size is not a multiple of MapAlign ends short).
const (
	MapLeaf  = 3
	MapInner = 4

	MapAlign     = 4096
	MapBlockBits = 7 // 128 entries per block on average
	MapBlockMin  = 16
	MapBlockMax  = 1024
	MapMaxLevel  = 8 // 128^8 extents: far beyond MaxDiskSize/MapAlign
)

// MapEntry is one entry of a map block: an extent of a leaf (ID zero for a
// hole) or a child of an inner block.
type MapEntry struct {
	Len int64
	ID  ChunkID
}

// MapBlock is a decoded map block.
type MapBlock struct {
	Level   int // 1 for a leaf
	Entries []MapEntry
	Total   int64 // sum of the lengths
}

// MapBoundary reports whether a block may end after e: its boundary hash
// (the id's first bytes; a hole's length, mixed) has MapBlockBits low zero
// bits.
func MapBoundary(e MapEntry) bool {
	var h uint64
	if e.ID.IsZero() {
		h = mix64(uint64(e.Len))
	} else {
		h = binary.LittleEndian.Uint64(e.ID[:8])
	}
	return h&(1<<MapBlockBits-1) == 0
}

// mix64 is splitmix64's finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// EncodeMapBlock encodes entries as a block of level (1 = leaf).
func EncodeMapBlock(level int, es []MapEntry) []byte {
	kind := byte(MapInner)
	if level == 1 {
		kind = MapLeaf
	}
	b := make([]byte, 0, 2+binary.MaxVarintLen64+len(es)*(binary.MaxVarintLen64+32))
	b = append(b, kind, byte(level))
	b = binary.AppendUvarint(b, uint64(len(es)))
	for _, e := range es {
		if level == 1 {
			hole := e.ID.IsZero()
			v := uint64(e.Len) << 1
			if hole {
				v |= 1
			}
			b = binary.AppendUvarint(b, v)
			if hole {
				continue
			}
		} else {
			b = binary.AppendUvarint(b, uint64(e.Len))
		}
		b = append(b, e.ID[:]...)
	}
	return b
}

// MaxMapBlockSize bounds an encoded block.
const MaxMapBlockSize = 2 + binary.MaxVarintLen64 + MapBlockMax*(binary.MaxVarintLen64+32)

// DecodeMapBlock decodes and checks a block: its kind and level, entry
// count and lengths (positive, aligned but for the last, a total within
// MaxDiskSize), no stored id zero and no trailing bytes.
func DecodeMapBlock(b []byte) (*MapBlock, error) {
	bad := func(format string, a ...any) (*MapBlock, error) {
		return nil, fmt.Errorf("map block: "+format+": %w", append(a, ErrCorrupt)...)
	}
	if len(b) < 3 || len(b) > MaxMapBlockSize {
		return bad("%d bytes", len(b))
	}
	kind, level := b[0], int(b[1])
	switch {
	case kind != MapLeaf && kind != MapInner:
		return bad("kind %d", kind)
	case level < 1 || level > MapMaxLevel || (level == 1) != (kind == MapLeaf):
		return bad("kind %d at level %d", kind, level)
	}
	n, k := uvarint(b[2:])
	if k <= 0 || n == 0 || n > MapBlockMax {
		return bad("entry count %d", n)
	}
	p := 2 + k
	blk := &MapBlock{Level: level, Entries: make([]MapEntry, n)}
	for i := range blk.Entries {
		v, k := uvarint(b[p:])
		if k <= 0 {
			return bad("entry %d: bad length", i)
		}
		p += k
		hole := false
		if level == 1 {
			hole, v = v&1 == 1, v>>1
		}
		if v == 0 || v > MaxDiskSize || blk.Total+int64(v) > MaxDiskSize {
			return bad("entry %d: length %d", i, v)
		}
		if v%MapAlign != 0 && i != len(blk.Entries)-1 {
			return bad("entry %d: length %d not a multiple of %d", i, v, MapAlign)
		}
		e := &blk.Entries[i]
		e.Len = int64(v)
		blk.Total += e.Len
		if hole {
			continue
		}
		if len(b)-p < 32 {
			return bad("entry %d: truncated", i)
		}
		copy(e.ID[:], b[p:p+32])
		p += 32
		if e.ID.IsZero() {
			return bad("entry %d: zero id stored", i)
		}
	}
	if p != len(b) {
		return bad("%d bytes after the entries", len(b)-p)
	}
	return blk, nil
}

// uvarint is binary.Uvarint refusing an encoding longer than needed, so
// that a block has exactly one encoding.
func uvarint(b []byte) (uint64, int) {
	v, k := binary.Uvarint(b)
	if k > 1 && b[k-1] == 0 {
		return 0, -1
	}
	return v, k
}
