package ext4

import "encoding/binary"

const (
	extentMagic = 0xF30A
	// extentMaxDepth is EXT4_MAX_EXTENT_DEPTH.
	extentMaxDepth = 5
	// extentEntrySize is the size of ext4_extent, ext4_extent_idx and
	// ext4_extent_header alike.
	extentEntrySize = 12
	// extentInitMaxLen is EXT_INIT_MAX_LEN: ee_len above it marks an
	// unwritten extent of ee_len - 32768 blocks.
	extentInitMaxLen = 32768
)

// extentHeader mirrors struct ext4_extent_header.
type extentHeader struct {
	entries uint16 // eh_entries: valid entries following the header
	max     uint16 // eh_max: capacity of the node
	depth   uint16 // eh_depth: 0 for a leaf
}

// extentIdx mirrors struct ext4_extent_idx (an interior node entry).
type extentIdx struct {
	block uint32 // ei_block: first logical block covered
	leaf  uint64 // ei_leaf_lo | ei_leaf_hi<<32: child node block
}

// extentLeaf mirrors struct ext4_extent (a leaf entry).
type extentLeaf struct {
	block    uint32 // ee_block: first logical block
	len      uint16 // blocks, unwritten flag removed
	start    uint64 // ee_start_lo | ee_start_hi<<32: first physical block
	unwriten bool   // ee_len > EXT_INIT_MAX_LEN
}

// parseExtentHeader decodes and checks the header at the start of b, a
// node of len(b) bytes (60 in the inode, a block otherwise).
func parseExtentHeader(b []byte) (extentHeader, error) {
	if len(b) < extentEntrySize {
		return extentHeader{}, corruptf("extent node of %d bytes", len(b))
	}
	le := binary.LittleEndian
	if m := le.Uint16(b[0:]); m != extentMagic {
		return extentHeader{}, corruptf("extent header magic %#04x, want %#04x", m, extentMagic)
	}
	h := extentHeader{entries: le.Uint16(b[2:]), max: le.Uint16(b[4:]), depth: le.Uint16(b[6:])}
	if capacity := (len(b) - extentEntrySize) / extentEntrySize; int(h.max) > capacity {
		return h, corruptf("extent header eh_max %d exceeds node capacity %d", h.max, capacity)
	}
	if h.entries > h.max {
		return h, corruptf("extent header eh_entries %d > eh_max %d", h.entries, h.max)
	}
	if h.depth > extentMaxDepth {
		return h, corruptf("extent header eh_depth %d > %d", h.depth, extentMaxDepth)
	}
	return h, nil
}

// parseExtentIdx decodes entry i (0-based) of an interior node.
func parseExtentIdx(b []byte, i int) extentIdx {
	e := b[extentEntrySize*(i+1):]
	le := binary.LittleEndian
	return extentIdx{block: le.Uint32(e[0:]), leaf: uint64(le.Uint32(e[4:])) | uint64(le.Uint16(e[8:]))<<32}
}

// parseExtentLeaf decodes entry i (0-based) of a leaf node.
func parseExtentLeaf(b []byte, i int) extentLeaf {
	e := b[extentEntrySize*(i+1):]
	le := binary.LittleEndian
	x := extentLeaf{
		block: le.Uint32(e[0:]),
		len:   le.Uint16(e[4:]),
		start: uint64(le.Uint16(e[6:]))<<32 | uint64(le.Uint32(e[8:])),
	}
	if x.len > extentInitMaxLen {
		x.len -= extentInitMaxLen
		x.unwriten = true
	}
	return x
}

// extentTailOffset is where struct ext4_extent_tail (the checksum) sits in
// a tree block: right after eh_max entries.
func extentTailOffset(h extentHeader) int { return extentEntrySize * (int(h.max) + 1) }
