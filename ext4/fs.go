package ext4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"time"
)

// RootIno is the inode number of the root directory.
const RootIno = 2

// Options tune Open. The zero value (or a nil *Options) is the default.
type Options struct {
	// IgnoreChecksums skips metadata_csum and uninit_bg verification.
	IgnoreChecksums bool
	// InodeCacheSize bounds the number of decoded inodes kept in memory
	// (default 1024, about 0.5 MiB with 256-byte inodes; negative disables it).
	InodeCacheSize int
}

// VolumeInfo describes the volume as the superblock does.
type VolumeInfo struct {
	Type          string // "ext2", "ext3" or "ext4", as blkid names it
	Label         string // s_volume_name
	UUID          string // s_uuid, formatted like blkid
	LastMounted   string // s_last_mounted
	BlockSize     uint32 // bytes
	Blocks        uint64 // s_blocks_count
	FreeBlocks    uint64 // s_free_blocks_count (as last written, may be stale)
	Inodes        uint32 // s_inodes_count
	FreeInodes    uint32 // s_free_inodes_count
	Features      []string
	Created       time.Time // s_mkfs_time
	LastWritten   time.Time // s_wtime
	Clean         bool      // s_state has the "cleanly unmounted" bit
	HasErrors     bool      // s_state has the "errors detected" bit
	NeedsRecovery bool      // needs_recovery: the journal was not replayed
	// Warnings lists conditions that do not stop reading, such as an
	// unreplayed journal or a group descriptor with a bad checksum.
	Warnings []string
}

// Attr is what stat(2) would report for an inode.
type Attr struct {
	Ino    uint64
	Mode   uint32 // st_mode including the S_IFMT bits
	Nlink  uint32
	Uid    uint32
	Gid    uint32
	Size   int64
	Blocks int64  // 512-byte units
	Rdev   uint64 // device number (Linux userspace encoding) for device nodes
	Atime  time.Time
	Mtime  time.Time
	Ctime  time.Time
	Crtime time.Time // zero when the inode has no creation time
	Flags  uint32    // i_flags (EXT4_*_FL)
	// Generation is i_generation: the kernel picks a new one each time it
	// hands out the inode number, so it tells a reused inode from the old.
	Generation uint32
}

// DirEntry is one name in a directory.
type DirEntry struct {
	Name string
	Ino  uint64
	Mode uint32 // S_IFMT type bits
}

// FS is an open ext2/3/4 volume. It is safe for concurrent use.
type FS struct {
	r        io.ReaderAt
	size     int64
	opts     Options
	sb       *superblock
	bs       int64  // block size in bytes
	csumSeed uint32 // metadata_csum seed: crc32c(~0, uuid) or s_checksum_seed
	groups   []groupDesc
	// badGroups maps a group to the checksum error of its descriptor.
	badGroups map[uint32]error
	info      VolumeInfo
	inodes    *lru[uint64, *inode]
	damage    damageLog // what reading skipped as damaged (damage.go)
}

// Open reads the superblock and group descriptors of the volume in r,
// which is size bytes long. opts may be nil.
func Open(r io.ReaderAt, size int64, opts *Options) (*FS, error) {
	fs := &FS{r: r, size: size}
	if opts != nil {
		fs.opts = *opts
	}
	if fs.opts.InodeCacheSize == 0 {
		fs.opts.InodeCacheSize = 1024
	}
	fs.inodes = newLRU[uint64, *inode](fs.opts.InodeCacheSize)
	b := make([]byte, superblockSize)
	if err := fs.readAt(b, superblockOffset); err != nil {
		return nil, fmt.Errorf("ext4: read superblock: %w", err)
	}
	sb, err := parseSuperblock(b)
	if err != nil {
		return nil, fmt.Errorf("ext4: %w", err)
	}
	if err := sb.checkFeatures(); err != nil {
		return nil, err
	}
	fs.sb, fs.bs = sb, int64(sb.blockSize())
	if sb.hasMetadataCsum() && !fs.opts.IgnoreChecksums {
		if got := superblockCsum(b); got != sb.checksum {
			return nil, fmt.Errorf("ext4: %w", corruptf("superblock checksum %#08x, computed %#08x (use Options.IgnoreChecksums to read anyway)", sb.checksum, got))
		}
	}
	fs.csumSeed = crc32c(^uint32(0), sb.uuid[:])
	if sb.featureIncompat&incompatCsumSeed != 0 {
		fs.csumSeed = sb.checksumSeed
	}
	if err := fs.loadGroups(); err != nil {
		return nil, fmt.Errorf("ext4: %w", err)
	}
	fs.info = fs.makeInfo()
	return fs, nil
}

// readAt reads exactly len(b) bytes at off of the volume.
func (fs *FS) readAt(b []byte, off int64) error {
	if off < 0 || off+int64(len(b)) > fs.size {
		return corruptf("read of %d bytes at offset %d beyond the %d-byte volume", len(b), off, fs.size)
	}
	n, err := fs.r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read %d bytes at offset %d: %w", len(b), off, err)
}

// readBlock reads filesystem block blk.
func (fs *FS) readBlock(blk uint64) ([]byte, error) {
	if blk >= fs.sb.blocksCount {
		return nil, corruptf("block %d beyond the %d blocks of the filesystem", blk, fs.sb.blocksCount)
	}
	b := make([]byte, fs.bs)
	if err := fs.readAt(b, int64(blk)*fs.bs); err != nil {
		return nil, fmt.Errorf("block %d: %w", blk, err)
	}
	return b, nil
}

// loadGroups reads every group descriptor and verifies their checksums.
func (fs *FS) loadGroups() error {
	sb := fs.sb
	n := sb.groupCount()
	ds := uint64(sb.groupDescSize())
	if n*ds > uint64(fs.size) {
		return corruptf("%d group descriptors of %d bytes do not fit in a %d-byte volume", n, ds, fs.size)
	}
	perBlock := uint64(fs.bs) / ds
	fs.groups = make([]groupDesc, n)
	fs.badGroups = make(map[uint32]error)
	for i := uint64(0); i*perBlock < n; i++ {
		blk := fs.descBlock(i)
		b, err := fs.readBlock(blk)
		if err != nil {
			return fmt.Errorf("group descriptor block %d: %w", i, err)
		}
		for j := uint64(0); j < perBlock && i*perBlock+j < n; j++ {
			g := uint32(i*perBlock + j)
			raw := b[j*ds : (j+1)*ds]
			fs.groups[g] = parseGroupDesc(raw, sb.has64bit())
			if err := fs.checkGroup(g, raw); err != nil {
				fs.badGroups[g] = err
			}
		}
	}
	return nil
}

// checkGroup verifies the checksum and table location of group g.
func (fs *FS) checkGroup(g uint32, raw []byte) error {
	gd := fs.groups[g]
	csum := fs.sb.hasMetadataCsum() || fs.sb.featureRoCompat&roCompatGdtCsum != 0
	if csum && !fs.opts.IgnoreChecksums {
		if got := fs.groupDescCsum(g, raw); got != gd.checksum {
			return corruptf("group descriptor %d: checksum %#04x, computed %#04x", g, gd.checksum, got)
		}
	}
	tableBlocks := (uint64(fs.sb.inodesPerGroup)*uint64(fs.sb.inodeSize) + uint64(fs.bs) - 1) / uint64(fs.bs)
	if gd.inodeTable == 0 || gd.inodeTable+tableBlocks > fs.sb.blocksCount {
		return corruptf("group descriptor %d: inode table at block %d (+%d) outside the filesystem", g, gd.inodeTable, tableBlocks)
	}
	return nil
}

// descBlock is the block holding group descriptor block i
// (ext2fs_descriptor_block_loc2, primary copy).
func (fs *FS) descBlock(i uint64) uint64 {
	sb := fs.sb
	first := uint64(sb.firstDataBlock)
	adjust := uint64(0)
	if i == 0 {
		adjust = fs.groupZeroAdjust()
	}
	if sb.featureIncompat&incompatMetaBG == 0 || i < uint64(sb.firstMetaBG) {
		return first + i + 1 + adjust
	}
	g := (uint64(fs.bs) / uint64(sb.groupDescSize())) * i
	blk := first + g*uint64(sb.blocksPerGroup)
	if fs.groupHasSuper(g) {
		blk++
	}
	return blk + adjust
}

// groupZeroAdjust is 1 when group 0's descriptors sit one block later than
// usual: with bigalloc and 1 KiB blocks s_first_data_block is 0, yet the
// superblock still takes block 1 (group_zero_adjust in e2fsprogs).
func (fs *FS) groupZeroAdjust() uint64 {
	if fs.bs == 1024 && fs.sb.clusterRatio() > 1 {
		return 1
	}
	return 0
}

// groupHasSuper reports whether group g holds a superblock backup
// (ext2fs_bg_has_super).
func (fs *FS) groupHasSuper(g uint64) bool {
	sb := fs.sb
	switch {
	case g == 0:
		return true
	case sb.featureCompat&compatSparseSuper2 != 0:
		return g == uint64(sb.backupBGs[0]) || g == uint64(sb.backupBGs[1])
	case g <= 1 || sb.featureRoCompat&roCompatSparseSuper == 0:
		return true
	case g&1 == 0:
		return false
	}
	for _, base := range []uint64{3, 5, 7} {
		p := base
		for p < g {
			p *= base
		}
		if p == g {
			return true
		}
	}
	return false
}

func (fs *FS) makeInfo() VolumeInfo {
	sb := fs.sb
	info := VolumeInfo{
		Type:          sb.fsType(),
		Label:         sb.volumeName,
		UUID:          uuidString(sb.uuid),
		LastMounted:   sb.lastMounted,
		BlockSize:     sb.blockSize(),
		Blocks:        sb.blocksCount,
		FreeBlocks:    sb.freeBlocksCount,
		Inodes:        sb.inodesCount,
		FreeInodes:    sb.freeInodesCount,
		Features:      sb.featureNames(),
		Created:       time.Unix(sb.mkfsTime, 0),
		LastWritten:   time.Unix(sb.wtime, 0),
		Clean:         sb.state&1 != 0,
		HasErrors:     sb.state&2 != 0,
		NeedsRecovery: sb.featureIncompat&incompatRecover != 0,
	}
	if info.NeedsRecovery {
		info.Warnings = append(info.Warnings, "journal needs recovery and was not replayed: the newest metadata changes may be missing or inconsistent")
	}
	if info.HasErrors {
		info.Warnings = append(info.Warnings, "filesystem is marked as having errors (s_state)")
	}
	if blocks := int64(sb.blocksCount) * fs.bs; blocks > fs.size {
		info.Warnings = append(info.Warnings, fmt.Sprintf("filesystem is %d bytes but the volume is only %d bytes", blocks, fs.size))
	}
	for g := range uint32(len(fs.groups)) {
		if err := fs.badGroups[g]; err != nil {
			info.Warnings = append(info.Warnings, err.Error())
		}
	}
	return info
}

// Info describes the volume.
func (fs *FS) Info() VolumeInfo {
	info := fs.info
	info.Features = append([]string(nil), fs.info.Features...)
	info.Warnings = append([]string(nil), fs.info.Warnings...)
	return info
}

// Root is the inode number of the root directory (2).
func (fs *FS) Root() uint64 { return RootIno }

// inode reads and decodes inode ino, verifying its checksum.
func (fs *FS) inode(ino uint64) (*inode, error) {
	if in, ok := fs.inodes.get(ino); ok {
		return in, nil
	}
	in, err := fs.loadInode(ino)
	if err != nil {
		return nil, err
	}
	fs.inodes.add(ino, in)
	return in, nil
}

func (fs *FS) loadInode(ino uint64) (*inode, error) {
	sb := fs.sb
	if ino == 0 || ino > uint64(sb.inodesCount) {
		return nil, fmt.Errorf("inode %d: out of range 1-%d: %w", ino, sb.inodesCount, iofs.ErrNotExist)
	}
	g := uint32((ino - 1) / uint64(sb.inodesPerGroup))
	idx := (ino - 1) % uint64(sb.inodesPerGroup)
	if err := fs.badGroups[g]; err != nil {
		return nil, fmt.Errorf("inode %d: %w", ino, err)
	}
	gd := fs.groups[g]
	if gd.flags&bgInodeUninit != 0 && (fs.sb.featureRoCompat&(roCompatGdtCsum|roCompatMetadataCsum) != 0) {
		return nil, fmt.Errorf("inode %d: in uninitialized group %d: %w", ino, g, iofs.ErrNotExist)
	}
	b := make([]byte, sb.inodeSize)
	off := int64(gd.inodeTable)*fs.bs + int64(idx)*int64(sb.inodeSize)
	if err := fs.readAt(b, off); err != nil {
		return nil, fmt.Errorf("inode %d: %w", ino, err)
	}
	in, err := parseInode(b)
	if err != nil {
		return nil, fmt.Errorf("inode %d at offset %d: %w", ino, off, err)
	}
	// Before the checks: a never-used inode is zeros, checksum included.
	if in.mode == 0 && in.linksCount == 0 {
		return nil, fmt.Errorf("inode %d: not in use: %w", ino, iofs.ErrNotExist)
	}
	if err := fs.checkInode(ino, in, b, off); err != nil {
		return nil, err
	}
	return in, nil
}

// decodeInode parses the inode record b of inode ino, read at volume
// offset off, and checks its size and checksum.
func (fs *FS) decodeInode(ino uint64, b []byte, off int64) (*inode, error) {
	in, err := parseInode(b)
	if err != nil {
		return nil, fmt.Errorf("inode %d at offset %d: %w", ino, off, err)
	}
	if err := fs.checkInode(ino, in, b, off); err != nil {
		return nil, err
	}
	return in, nil
}

// checkInode checks the size and checksum of in, parsed from b.
func (fs *FS) checkInode(ino uint64, in *inode, b []byte, off int64) error {
	sb := fs.sb
	if max := maxFileSize(sb, in); in.size > max {
		// Sizes are unsigned on disk: one with the top bit set would turn
		// into a negative st_size.
		return fmt.Errorf("inode %d at offset %d: %w", ino, off, corruptf("i_size %d exceeds the largest file a %d-byte-block filesystem holds (%d)", in.size, fs.bs, max))
	}
	if sb.hasMetadataCsum() && !fs.opts.IgnoreChecksums {
		if got := fs.inodeCsum(ino, in, b); got != in.checksum {
			return fmt.Errorf("inode %d at offset %d: %w", ino, off, corruptf("inode checksum %#08x, computed %#08x", in.checksum, got))
		}
	}
	return nil
}

// inodeSeed is ei->i_csum_seed: the checksum seed of an inode's metadata.
func (fs *FS) inodeSeed(ino uint64, gen uint32) uint32 {
	return crc32cU32(crc32cU32(fs.csumSeed, uint32(ino)), gen)
}

// inodeCsum is ext4_inode_csum, truncated to 16 bits without i_checksum_hi.
func (fs *FS) inodeCsum(ino uint64, in *inode, raw []byte) uint32 {
	b := append([]byte(nil), raw...)
	binary.LittleEndian.PutUint16(b[inodeCsumLoOffset:], 0)
	if in.hasCsumHi {
		binary.LittleEndian.PutUint16(b[inodeCsumHiOffset:], 0)
	}
	c := crc32c(fs.inodeSeed(ino, in.generation), b)
	if !in.hasCsumHi {
		c &= 0xFFFF
	}
	return c
}

// Stat returns the attributes of inode ino.
func (fs *FS) Stat(ino uint64) (Attr, error) {
	in, err := fs.inode(ino)
	if err != nil {
		return Attr{}, err
	}
	return fs.attrOf(ino, in), nil
}

// attrOf is the stat(2) view of inode ino.
func (fs *FS) attrOf(ino uint64, in *inode) Attr {
	a := Attr{
		Ino:    ino,
		Mode:   uint32(in.mode),
		Nlink:  uint32(in.linksCount),
		Uid:    in.uid,
		Gid:    in.gid,
		Size:   int64(in.size),
		Blocks: int64(in.blocks512(fs.sb)),
		Atime:  in.atime,
		Mtime:  in.mtime,
		Ctime:  in.ctime,
		Crtime: in.crtime,
		Flags:  in.flags,

		Generation: in.generation,
	}
	if in.flags&inodeFlagInlineData != 0 && in.fileType() == sIFREG {
		// ext4_file_getattr reports inline data as sectors so that tar and
		// rsync do not take the file for fully sparse.
		a.Blocks += (a.Size + 511) >> 9
	}
	if t := in.fileType(); t == sIFCHR || t == sIFBLK {
		a.Rdev = in.rdev()
	}
	return a
}

// errNotDir is wrapped when a directory operation is given another type.
var errNotDir = errors.New("not a directory")
