package ext4

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// superblockOffset is the byte offset of the primary superblock in the
// volume, whatever the block size.
const superblockOffset = 1024

// superblockSize is the size of struct ext4_super_block.
const superblockSize = 1024

const superblockMagic = 0xEF53

// Feature bits (s_feature_compat, s_feature_incompat, s_feature_ro_compat).
const (
	compatHasJournal   = 0x4
	compatResizeInode  = 0x10
	compatDirIndex     = 0x20
	compatSparseSuper2 = 0x200

	incompatCompression = 0x1
	incompatFiletype    = 0x2
	incompatRecover     = 0x4
	incompatJournalDev  = 0x8
	incompatMetaBG      = 0x10
	incompatExtents     = 0x40
	incompat64bit       = 0x80
	incompatMMP         = 0x100
	incompatFlexBG      = 0x200
	incompatEAInode     = 0x400
	incompatDirData     = 0x1000
	incompatCsumSeed    = 0x2000
	incompatLargeDir    = 0x4000
	incompatInlineData  = 0x8000
	incompatEncrypt     = 0x10000
	incompatCasefold    = 0x20000

	// incompatKnown are the incompatible features this reader handles.
	incompatKnown = incompatFiletype | incompatRecover | incompatMetaBG |
		incompatExtents | incompat64bit | incompatMMP | incompatFlexBG |
		incompatEAInode | incompatCsumSeed | incompatLargeDir |
		incompatInlineData | incompatEncrypt | incompatCasefold

	roCompatSparseSuper  = 0x1
	roCompatLargeFile    = 0x2
	roCompatHugeFile     = 0x8
	roCompatGdtCsum      = 0x10
	roCompatDirNlink     = 0x20
	roCompatExtraIsize   = 0x40
	roCompatQuota        = 0x100
	roCompatBigalloc     = 0x200
	roCompatMetadataCsum = 0x400
	roCompatReadonly     = 0x1000
	roCompatProject      = 0x2000
	roCompatVerity       = 0x8000
	roCompatOrphan       = 0x10000
)

// s_flags bits.
const (
	flagSignedHash   = 0x1
	flagUnsignedHash = 0x2
)

// superblock mirrors the fields of struct ext4_super_block that the reader
// uses. Counts are in blocks or inodes as named; sizes in bytes.
type superblock struct {
	inodesCount      uint32 // s_inodes_count
	blocksCount      uint64 // s_blocks_count_lo | s_blocks_count_hi<<32
	freeBlocksCount  uint64 // s_free_blocks_count_lo | _hi<<32
	freeInodesCount  uint32 // s_free_inodes_count
	firstDataBlock   uint32 // s_first_data_block
	logBlockSize     uint32 // block size = 1024 << s_log_block_size
	logClusterSize   uint32 // s_log_cluster_size (bigalloc)
	blocksPerGroup   uint32 // s_blocks_per_group
	clustersPerGroup uint32 // s_clusters_per_group
	inodesPerGroup   uint32 // s_inodes_per_group
	mtime, wtime     int64  // s_mtime, s_wtime (+ _hi bytes), seconds
	magic            uint16 // s_magic
	state            uint16 // s_state: 1 clean, 2 errors, 4 orphans
	revLevel         uint32 // s_rev_level
	firstIno         uint32 // s_first_ino
	inodeSize        uint16 // s_inode_size, bytes
	featureCompat    uint32
	featureIncompat  uint32
	featureRoCompat  uint32
	uuid             [16]byte // s_uuid
	volumeName       string   // s_volume_name
	lastMounted      string   // s_last_mounted
	reservedGdt      uint16   // s_reserved_gdt_blocks
	journalInum      uint32   // s_journal_inum
	hashSeed         [4]uint32
	defHashVersion   uint8  // s_def_hash_version
	descSize         uint16 // s_desc_size (64bit only)
	firstMetaBG      uint32 // s_first_meta_bg
	mkfsTime         int64  // s_mkfs_time (+ _hi)
	minExtraIsize    uint16 // s_min_extra_isize
	flags            uint32 // s_flags
	logGroupsPerFlex uint8  // s_log_groups_per_flex
	checksumType     uint8  // s_checksum_type (1 = crc32c)
	backupBGs        [2]uint32
	checksumSeed     uint32 // s_checksum_seed (metadata_csum_seed)
	encoding         uint16 // s_encoding (1 = utf8)
	checksum         uint32 // s_checksum
}

// parseSuperblock decodes a 1024-byte superblock and checks the fields
// the rest of the reader depends on.
func parseSuperblock(b []byte) (*superblock, error) {
	if len(b) < superblockSize {
		return nil, corruptf("superblock: %d bytes, want %d", len(b), superblockSize)
	}
	le := binary.LittleEndian
	sb := &superblock{
		inodesCount:      le.Uint32(b[0x0:]),
		blocksCount:      uint64(le.Uint32(b[0x4:])),
		freeBlocksCount:  uint64(le.Uint32(b[0xC:])),
		freeInodesCount:  le.Uint32(b[0x10:]),
		firstDataBlock:   le.Uint32(b[0x14:]),
		logBlockSize:     le.Uint32(b[0x18:]),
		logClusterSize:   le.Uint32(b[0x1C:]),
		blocksPerGroup:   le.Uint32(b[0x20:]),
		clustersPerGroup: le.Uint32(b[0x24:]),
		inodesPerGroup:   le.Uint32(b[0x28:]),
		mtime:            int64(le.Uint32(b[0x2C:])) | int64(b[0x275])<<32,
		wtime:            int64(le.Uint32(b[0x30:])) | int64(b[0x274])<<32,
		magic:            le.Uint16(b[0x38:]),
		state:            le.Uint16(b[0x3A:]),
		revLevel:         le.Uint32(b[0x4C:]),
		firstIno:         11,
		inodeSize:        128,
		reservedGdt:      le.Uint16(b[0xCE:]),
		journalInum:      le.Uint32(b[0xE0:]),
		defHashVersion:   b[0xFC],
		firstMetaBG:      le.Uint32(b[0x104:]),
		mkfsTime:         int64(le.Uint32(b[0x108:])) | int64(b[0x276])<<32,
		minExtraIsize:    le.Uint16(b[0x15C:]),
		flags:            le.Uint32(b[0x160:]),
		logGroupsPerFlex: b[0x174],
		checksumType:     b[0x175],
		checksumSeed:     le.Uint32(b[0x270:]),
		encoding:         le.Uint16(b[0x27C:]),
		checksum:         le.Uint32(b[0x3FC:]),
	}
	if sb.magic != superblockMagic {
		return nil, corruptf("superblock: magic %#04x at offset %d, want %#04x", sb.magic, superblockOffset+0x38, superblockMagic)
	}
	if sb.revLevel >= 1 {
		sb.firstIno = le.Uint32(b[0x54:])
		sb.inodeSize = le.Uint16(b[0x58:])
		sb.featureCompat = le.Uint32(b[0x5C:])
		sb.featureIncompat = le.Uint32(b[0x60:])
		sb.featureRoCompat = le.Uint32(b[0x64:])
	}
	copy(sb.uuid[:], b[0x68:0x78])
	sb.volumeName = cString(b[0x78:0x88])
	sb.lastMounted = cString(b[0x88:0xC8])
	for i := range sb.hashSeed {
		sb.hashSeed[i] = le.Uint32(b[0xEC+4*i:])
	}
	sb.backupBGs[0] = le.Uint32(b[0x24C:])
	sb.backupBGs[1] = le.Uint32(b[0x250:])
	if sb.has64bit() {
		sb.blocksCount |= uint64(le.Uint32(b[0x150:])) << 32
		sb.freeBlocksCount |= uint64(le.Uint32(b[0x158:])) << 32
		sb.descSize = le.Uint16(b[0xFE:])
	}
	return sb, sb.validate()
}

// validate checks the geometry so later arithmetic cannot divide by zero,
// overflow or allocate without bound.
func (sb *superblock) validate() error {
	if sb.logBlockSize > 6 {
		return corruptf("superblock: s_log_block_size %d (block size above 64 KiB)", sb.logBlockSize)
	}
	bs := sb.blockSize()
	if err := sb.validateGroups(); err != nil {
		return err
	}
	if sb.inodesPerGroup == 0 || sb.inodesPerGroup > 8*bs {
		return corruptf("superblock: s_inodes_per_group %d (block size %d)", sb.inodesPerGroup, bs)
	}
	if sb.inodeSize < 128 || uint32(sb.inodeSize) > bs || sb.inodeSize&(sb.inodeSize-1) != 0 {
		return corruptf("superblock: s_inode_size %d", sb.inodeSize)
	}
	if sb.blocksCount <= uint64(sb.firstDataBlock) {
		return corruptf("superblock: s_blocks_count %d <= s_first_data_block %d", sb.blocksCount, sb.firstDataBlock)
	}
	if sb.firstDataBlock > 1 {
		return corruptf("superblock: s_first_data_block %d", sb.firstDataBlock)
	}
	if sb.has64bit() {
		ds := uint32(sb.descSize)
		if ds < 32 || ds > bs || ds&(ds-1) != 0 {
			return corruptf("superblock: s_desc_size %d", sb.descSize)
		}
	}
	groups := sb.groupCount()
	if uint64(sb.inodesCount) > groups*uint64(sb.inodesPerGroup) {
		return corruptf("superblock: s_inodes_count %d > %d groups x %d inodes", sb.inodesCount, groups, sb.inodesPerGroup)
	}
	if sb.firstIno < 11 && sb.revLevel >= 1 {
		return corruptf("superblock: s_first_ino %d", sb.firstIno)
	}
	return nil
}

// validateGroups checks the group size: a bitmap block maps a group, one
// bit per block, or with bigalloc one bit per cluster of blocks (as the
// kernel's ext4_fill_super checks it).
func (sb *superblock) validateGroups() error {
	bs := sb.blockSize()
	if sb.featureRoCompat&roCompatBigalloc == 0 {
		if sb.blocksPerGroup == 0 || sb.blocksPerGroup > 8*bs {
			return corruptf("superblock: s_blocks_per_group %d (block size %d)", sb.blocksPerGroup, bs)
		}
		return nil
	}
	if sb.logClusterSize < sb.logBlockSize || sb.logClusterSize-sb.logBlockSize > 16 {
		return corruptf("superblock: s_log_cluster_size %d with s_log_block_size %d", sb.logClusterSize, sb.logBlockSize)
	}
	if sb.clustersPerGroup == 0 || sb.clustersPerGroup > 8*bs {
		return corruptf("superblock: s_clusters_per_group %d (block size %d)", sb.clustersPerGroup, bs)
	}
	if uint64(sb.clustersPerGroup)*uint64(sb.clusterRatio()) != uint64(sb.blocksPerGroup) {
		return corruptf("superblock: s_blocks_per_group %d is not s_clusters_per_group %d x %d blocks per cluster", sb.blocksPerGroup, sb.clustersPerGroup, sb.clusterRatio())
	}
	return nil
}

func (sb *superblock) blockSize() uint32 { return 1024 << sb.logBlockSize }

func (sb *superblock) has64bit() bool { return sb.featureIncompat&incompat64bit != 0 }

func (sb *superblock) hasMetadataCsum() bool {
	return sb.featureRoCompat&roCompatMetadataCsum != 0
}

// groupDescSize is the size of one group descriptor in bytes.
func (sb *superblock) groupDescSize() uint32 {
	if sb.has64bit() {
		return uint32(sb.descSize)
	}
	return 32
}

// groupCount is the number of block groups.
func (sb *superblock) groupCount() uint64 {
	n := sb.blocksCount - uint64(sb.firstDataBlock)
	return (n + uint64(sb.blocksPerGroup) - 1) / uint64(sb.blocksPerGroup)
}

// clusterRatio is blocks per allocation cluster (1 without bigalloc).
func (sb *superblock) clusterRatio() uint32 {
	if sb.featureRoCompat&roCompatBigalloc == 0 {
		return 1
	}
	return 1 << (sb.logClusterSize - sb.logBlockSize)
}

// fsType names the filesystem the way blkid does.
func (sb *superblock) fsType() string {
	ext4Only := uint32(incompatExtents | incompat64bit | incompatFlexBG | incompatMMP |
		incompatEAInode | incompatInlineData | incompatLargeDir | incompatCsumSeed |
		incompatEncrypt | incompatCasefold)
	roExt4 := uint32(roCompatHugeFile | roCompatGdtCsum | roCompatDirNlink |
		roCompatExtraIsize | roCompatMetadataCsum | roCompatBigalloc | roCompatQuota |
		roCompatProject | roCompatVerity)
	switch {
	case sb.featureIncompat&ext4Only != 0 || sb.featureRoCompat&roExt4 != 0:
		return "ext4"
	case sb.featureCompat&compatHasJournal != 0:
		return "ext3"
	}
	return "ext2"
}

// featureNames lists the feature flags by their e2fsprogs names.
func (sb *superblock) featureNames() []string {
	type feat struct {
		set  *uint32
		bit  uint32
		name string
	}
	table := []feat{
		{&sb.featureCompat, 0x1, "dir_prealloc"}, {&sb.featureCompat, 0x2, "imagic_inodes"},
		{&sb.featureCompat, compatHasJournal, "has_journal"}, {&sb.featureCompat, 0x8, "ext_attr"},
		{&sb.featureCompat, compatResizeInode, "resize_inode"}, {&sb.featureCompat, compatDirIndex, "dir_index"},
		{&sb.featureCompat, compatSparseSuper2, "sparse_super2"}, {&sb.featureCompat, 0x400, "fast_commit"},
		{&sb.featureCompat, 0x800, "stable_inodes"}, {&sb.featureCompat, 0x1000, "orphan_file"},
		{&sb.featureIncompat, incompatCompression, "compression"}, {&sb.featureIncompat, incompatFiletype, "filetype"},
		{&sb.featureIncompat, incompatRecover, "needs_recovery"}, {&sb.featureIncompat, incompatJournalDev, "journal_dev"},
		{&sb.featureIncompat, incompatMetaBG, "meta_bg"}, {&sb.featureIncompat, incompatExtents, "extent"},
		{&sb.featureIncompat, incompat64bit, "64bit"}, {&sb.featureIncompat, incompatMMP, "mmp"},
		{&sb.featureIncompat, incompatFlexBG, "flex_bg"}, {&sb.featureIncompat, incompatEAInode, "ea_inode"},
		{&sb.featureIncompat, incompatDirData, "dirdata"}, {&sb.featureIncompat, incompatCsumSeed, "metadata_csum_seed"},
		{&sb.featureIncompat, incompatLargeDir, "large_dir"}, {&sb.featureIncompat, incompatInlineData, "inline_data"},
		{&sb.featureIncompat, incompatEncrypt, "encrypt"}, {&sb.featureIncompat, incompatCasefold, "casefold"},
		{&sb.featureRoCompat, roCompatSparseSuper, "sparse_super"}, {&sb.featureRoCompat, roCompatLargeFile, "large_file"},
		{&sb.featureRoCompat, roCompatHugeFile, "huge_file"}, {&sb.featureRoCompat, roCompatGdtCsum, "uninit_bg"},
		{&sb.featureRoCompat, roCompatDirNlink, "dir_nlink"}, {&sb.featureRoCompat, roCompatExtraIsize, "extra_isize"},
		{&sb.featureRoCompat, roCompatQuota, "quota"}, {&sb.featureRoCompat, roCompatBigalloc, "bigalloc"},
		{&sb.featureRoCompat, roCompatMetadataCsum, "metadata_csum"}, {&sb.featureRoCompat, roCompatReadonly, "read-only"},
		{&sb.featureRoCompat, roCompatProject, "project"}, {&sb.featureRoCompat, roCompatVerity, "verity"},
		{&sb.featureRoCompat, roCompatOrphan, "orphan_present"},
	}
	var names []string
	for _, f := range table {
		if *f.set&f.bit != 0 {
			names = append(names, f.name)
		}
	}
	return names
}

// checkFeatures refuses incompatible features the reader does not handle.
func (sb *superblock) checkFeatures() error {
	if sb.featureIncompat&incompatJournalDev != 0 {
		return unsupportedf("volume is an external journal device (journal_dev), not a filesystem")
	}
	if unknown := sb.featureIncompat &^ incompatKnown; unknown != 0 {
		return unsupportedf("incompatible feature flags %#x (s_feature_incompat %#x)", unknown, sb.featureIncompat)
	}
	if sb.hasMetadataCsum() && sb.checksumType != 1 {
		return unsupportedf("checksum type %d (only crc32c, 1, is defined)", sb.checksumType)
	}
	return nil
}

func cString(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// uuidString formats a 16-byte UUID the way blkid prints it.
func uuidString(u [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
