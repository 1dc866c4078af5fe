package partition

import (
	"encoding/binary"
	"hash/crc32"
)

// dm-thin pool metadata layout (Linux drivers/md/dm-thin-metadata.c and
// persistent-data/dm-btree-internal.h). All fields are little-endian; the
// metadata device is a sequence of 4 KiB blocks, block 0 the superblock.
const (
	thinBlockSize      = 4096     // THIN_METADATA_BLOCK_SIZE, bytes
	thinSuperMagic     = 27022010 // THIN_SUPERBLOCK_MAGIC
	thinSuperCsumXor   = 160774   // SUPERBLOCK_CSUM_XOR
	thinBtreeCsumXor   = 121107   // BTREE_CSUM_XOR
	thinNeedsCheck     = 1        // THIN_METADATA_NEEDS_CHECK_FLAG in flags
	thinBtreeInternal  = 1        // INTERNAL_NODE in node_header.flags
	thinBtreeLeaf      = 2        // LEAF_NODE
	thinNodeHeaderSize = 32       // sizeof(struct node_header)
	thinDetailsSize    = 24       // sizeof(struct disk_device_details)
	thinMinChunk       = 128      // DATA_DEV_BLOCK_SIZE_MIN_SECTORS (64 KiB)
	thinMaxChunk       = 2097152  // DATA_DEV_BLOCK_SIZE_MAX_SECTORS (1 GiB)
	thinTimeBits       = 24       // block_time: data block << 24 | time
	thinBitmapCsumXor  = 240779   // BITMAP_CSUM_XOR
	thinBitmapHeader   = 16       // sizeof(struct disk_bitmap_header): csum, not_used, blocknr
	thinIndexEntrySize = 16       // sizeof(struct disk_index_entry): blocknr, nr_free, none_free_before
	// thinBitmapEntries is how many blocks one space map bitmap block
	// counts, 2 bits each (ll_disk.entries_per_block).
	thinBitmapEntries = (thinBlockSize - thinBitmapHeader) * 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// thinChecksum is dm_bm_checksum over a metadata block after its csum
// field: the kernel's crc32c seeded with ~0 and not inverted at the end,
// XORed with a per-structure constant.
func thinChecksum(block []byte, xor uint32) uint32 {
	return ^crc32.Checksum(block[4:], castagnoli) ^ xor
}

// thinSuperblock mirrors struct thin_disk_superblock, at the start of
// metadata block 0 (364 bytes; the rest of the block is covered by csum).
type thinSuperblock struct {
	Csum          uint32 // thinChecksum(thinSuperCsumXor) of the block
	Flags         uint32 // thinNeedsCheck
	Blocknr       uint64 // this block's number: 0
	Magic         uint64
	Version       uint32 // 1 or 2
	Time          uint32 // snapshot counter
	TransID       uint64 // userspace transaction id (lvm2's transaction_id)
	HeldRoot      uint64 // block of a metadata snapshot held by userspace, 0 if none
	DataSM        thinSMRoot
	MappingRoot   uint64 // two-level btree: dev id -> (virtual block -> block_time)
	DetailsRoot   uint64 // btree: dev id -> disk_device_details
	DataBlockSize uint32 // sectors per data block (the pool's chunk size)
	MetaBlockSize uint32 // sectors per metadata block: 8
	MetaBlocks    uint64 // metadata blocks
	CompatFlags   uint32
	CompatROFlags uint32
	IncompatFlags uint32
	computed      uint32
}

// thinSMRoot mirrors struct disk_sm_root, the first 32 of the 128 bytes
// the superblock keeps for the data space map root.
type thinSMRoot struct {
	NrBlocks     uint64 // data blocks in the pool
	NrAllocated  uint64
	BitmapRoot   uint64 // btree of index entries for the reference-count bitmaps
	RefCountRoot uint64 // btree of reference counts above 2
}

func decodeThinSuperblock(b []byte) thinSuperblock {
	le := binary.LittleEndian
	return thinSuperblock{
		Csum: le.Uint32(b[0:]), Flags: le.Uint32(b[4:]), Blocknr: le.Uint64(b[8:]),
		Magic: le.Uint64(b[32:]), Version: le.Uint32(b[40:]), Time: le.Uint32(b[44:]),
		TransID: le.Uint64(b[48:]), HeldRoot: le.Uint64(b[56:]),
		DataSM: thinSMRoot{le.Uint64(b[64:]), le.Uint64(b[72:]), le.Uint64(b[80:]), le.Uint64(b[88:])},
		// metadata space map root at 192..320: not needed to read
		MappingRoot: le.Uint64(b[320:]), DetailsRoot: le.Uint64(b[328:]),
		DataBlockSize: le.Uint32(b[336:]), MetaBlockSize: le.Uint32(b[340:]), MetaBlocks: le.Uint64(b[344:]),
		CompatFlags: le.Uint32(b[352:]), CompatROFlags: le.Uint32(b[356:]), IncompatFlags: le.Uint32(b[360:]),
		computed: thinChecksum(b[:thinBlockSize], thinSuperCsumXor),
	}
}

// thinNodeHeader mirrors struct node_header at the start of every btree
// node block. Keys (le64, max_entries of them) follow it, then the values
// (value_size bytes each, max_entries of them).
type thinNodeHeader struct {
	Csum       uint32 // thinChecksum(thinBtreeCsumXor) of the block
	Flags      uint32 // thinBtreeInternal or thinBtreeLeaf
	Blocknr    uint64 // this block's number
	NrEntries  uint32
	MaxEntries uint32
	ValueSize  uint32 // bytes; 8 (a child block) in internal nodes
	computed   uint32
}

func decodeThinNodeHeader(b []byte) thinNodeHeader {
	le := binary.LittleEndian
	return thinNodeHeader{
		Csum: le.Uint32(b[0:]), Flags: le.Uint32(b[4:]), Blocknr: le.Uint64(b[8:]),
		NrEntries: le.Uint32(b[16:]), MaxEntries: le.Uint32(b[20:]), ValueSize: le.Uint32(b[24:]),
		computed: thinChecksum(b[:thinBlockSize], thinBtreeCsumXor),
	}
}

// thinDeviceDetails mirrors struct disk_device_details, the value of the
// device details btree.
type thinDeviceDetails struct {
	MappedBlocks    uint64
	TransactionID   uint64 // when created
	CreationTime    uint32
	SnapshottedTime uint32
}

func decodeThinDeviceDetails(b []byte) thinDeviceDetails {
	le := binary.LittleEndian
	return thinDeviceDetails{le.Uint64(b[0:]), le.Uint64(b[8:]), le.Uint32(b[16:]), le.Uint32(b[20:])}
}
