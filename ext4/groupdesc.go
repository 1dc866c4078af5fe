package ext4

import "encoding/binary"

// Group descriptor flags (bg_flags).
const (
	bgInodeUninit = 0x1
	bgBlockUninit = 0x2
)

// groupDesc mirrors struct ext4_group_desc (32 bytes, or 64 and more with
// the 64bit feature). Block numbers are filesystem blocks.
type groupDesc struct {
	blockBitmap  uint64 // bg_block_bitmap_lo | _hi<<32
	inodeBitmap  uint64 // bg_inode_bitmap_lo | _hi<<32
	inodeTable   uint64 // bg_inode_table_lo | _hi<<32, first block
	freeBlocks   uint32 // bg_free_blocks_count_lo | _hi<<16
	freeInodes   uint32 // bg_free_inodes_count_lo | _hi<<16
	flags        uint16 // bg_flags
	itableUnused uint32 // bg_itable_unused_lo | _hi<<16
	checksum     uint16 // bg_checksum
}

// groupDescCsumOffset is the offset of bg_checksum in the descriptor.
const groupDescCsumOffset = 0x1E

// parseGroupDesc decodes one descriptor; b is descSize bytes (>= 32).
func parseGroupDesc(b []byte, is64 bool) groupDesc {
	le := binary.LittleEndian
	gd := groupDesc{
		blockBitmap:  uint64(le.Uint32(b[0x0:])),
		inodeBitmap:  uint64(le.Uint32(b[0x4:])),
		inodeTable:   uint64(le.Uint32(b[0x8:])),
		freeBlocks:   uint32(le.Uint16(b[0xC:])),
		freeInodes:   uint32(le.Uint16(b[0xE:])),
		flags:        le.Uint16(b[0x12:]),
		itableUnused: uint32(le.Uint16(b[0x1C:])),
		checksum:     le.Uint16(b[groupDescCsumOffset:]),
	}
	if is64 && len(b) >= 64 {
		gd.blockBitmap |= uint64(le.Uint32(b[0x20:])) << 32
		gd.inodeBitmap |= uint64(le.Uint32(b[0x24:])) << 32
		gd.inodeTable |= uint64(le.Uint32(b[0x28:])) << 32
		gd.freeBlocks |= uint32(le.Uint16(b[0x2C:])) << 16
		gd.freeInodes |= uint32(le.Uint16(b[0x2E:])) << 16
		gd.itableUnused |= uint32(le.Uint16(b[0x32:])) << 16
	}
	return gd
}
