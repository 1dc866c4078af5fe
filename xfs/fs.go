package xfs

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// Options tune Open. The zero value (or a nil *Options) is the default.
type Options struct {
	// IgnoreChecksums skips the CRC checks of v5 metadata.
	IgnoreChecksums bool
	// InodeCacheSize bounds the decoded inodes kept in memory (default
	// 4096; negative disables the cache).
	InodeCacheSize int
}

// VolumeInfo describes the volume as its superblock does.
type VolumeInfo struct {
	Label      string
	UUID       string
	Version    int    // 4 or 5 (v5: CRC-checked metadata)
	BlockSize  uint32 // bytes
	DirBlock   uint32 // directory block size in bytes
	InodeSize  uint32
	Blocks     uint64 // sb_dblocks
	FreeBlocks uint64 // sb_fdblocks (as last written; lazy counters may lag)
	Inodes     uint64 // sb_icount: inodes allocated
	FreeInodes uint64 // sb_ifree
	AGCount    uint32
	Features   []string
	// DirtyLog is set when the log holds transactions not yet written
	// back: the volume is read as it is on disk, without log recovery
	// (what the kernel's norecovery mount shows).
	DirtyLog bool
	// Warnings lists conditions that do not stop reading.
	Warnings []string
}

// Attr is what stat(2) reports for an inode.
type Attr struct {
	Ino    uint64
	Mode   uint32 // st_mode including the S_IFMT bits
	Nlink  uint32
	Uid    uint32
	Gid    uint32
	Size   int64
	Blocks int64  // 512-byte units
	Rdev   uint64 // Linux userspace encoding, for device nodes
	Atime  time.Time
	Mtime  time.Time
	Ctime  time.Time
	Crtime time.Time // zero on v4 (version 2) inodes
	Flags  uint16    // di_flags (XFS_DIFLAG_*: FlagImmutable, ...)
	// Generation is di_gen: new each time the inode number is reused.
	Generation uint32
}

// Bits of Attr.Flags (XFS_DIFLAG_*) that chattr sets.
const (
	FlagImmutable = 0x0008
	FlagAppend    = 0x0010
	FlagSync      = 0x0020
	FlagNoatime   = 0x0040
	FlagNodump    = 0x0080
)

// DirEntry is one name in a directory.
type DirEntry struct {
	Name string
	Ino  uint64
	Mode uint32 // S_IFMT type bits
}

// FS is an open XFS volume. It is safe for concurrent use.
type FS struct {
	r      io.ReaderAt
	size   int64
	opts   Options
	sb     *superblock
	info   VolumeInfo
	inodes *lru[uint64, *inode]
	dirs   *lru[uint64, *dirIndex]
	// dirRuns maps the blocks of directories looked up by hash.
	dirRuns *lru[uint64, []run]
	// iwins caches raw inode windows: a walk stats the inodes of a chunk
	// one after another, and one read for 64 inodes beats 64 reads.
	iwins  *lru[int64, []byte]
	damage damageLog
}

// newFS is an FS of r with its caches, before the superblock is read.
func newFS(r io.ReaderAt, size int64, opts Options) *FS {
	if opts.InodeCacheSize == 0 {
		opts.InodeCacheSize = 4096
	}
	return &FS{r: r, size: size, opts: opts,
		inodes:  newLRU[uint64, *inode](opts.InodeCacheSize),
		dirs:    newLRU[uint64, *dirIndex](16),
		dirRuns: newLRU[uint64, []run](64),
		iwins:   newLRU[int64, []byte](64),
	}
}

// Open reads the superblock of the volume in r (size bytes). opts may be nil.
func Open(r io.ReaderAt, size int64, opts *Options) (*FS, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	fs := newFS(r, size, o)
	b := make([]byte, 512)
	if err := fs.readAt(b, 0); err != nil {
		return nil, fmt.Errorf("xfs: read superblock: %w", err)
	}
	sb, err := parseSuperblock(b)
	if err != nil {
		return nil, fmt.Errorf("xfs: %w", err)
	}
	if err := sb.checkFeatures(); err != nil {
		return nil, err
	}
	fs.sb = sb
	if sb.v5() {
		full := make([]byte, sb.sectSize)
		if err := fs.readAt(full, 0); err != nil {
			return nil, fmt.Errorf("xfs: read superblock: %w", err)
		}
		if err := fs.checkMeta(full, sbCRCOff, "superblock"); err != nil {
			return nil, fmt.Errorf("xfs: %w (Options.IgnoreChecksums reads anyway)", err)
		}
	}
	if _, err := fs.inode(sb.rootIno); err != nil {
		return nil, fmt.Errorf("xfs: root directory: %w", err)
	}
	fs.info = fs.makeInfo()
	return fs, nil
}

func (fs *FS) makeInfo() VolumeInfo {
	sb := fs.sb
	in := VolumeInfo{Label: sb.label(), UUID: formatUUID(sb.uuid), Version: sb.version(),
		BlockSize: sb.blockSize, DirBlock: sb.blockSize << sb.dirBlkLog, InodeSize: uint32(sb.inodeSize),
		Blocks: sb.dblocks, FreeBlocks: sb.fdblocks, Inodes: sb.icount, FreeInodes: sb.ifree,
		AGCount: sb.agCount, Features: sb.features()}
	if sb.rblocks != 0 {
		in.Warnings = append(in.Warnings, "has a real-time device, which is not part of this volume: files on it cannot be read")
	}
	if sb.incompat&incompatRepair != 0 {
		in.Warnings = append(in.Warnings, "marked as needing xfs_repair (needsrepair)")
	}
	dirty, err := fs.logDirty()
	switch {
	case err != nil:
		in.Warnings = append(in.Warnings, fmt.Sprintf("log state unknown: %v", err))
	case dirty:
		in.DirtyLog = true
		in.Warnings = append(in.Warnings, "the log is dirty and was not replayed: recent changes may be missing or half-applied (as a norecovery mount shows)")
	}
	return in
}

// Info describes the volume.
func (fs *FS) Info() VolumeInfo { return fs.info }

// Root is the inode number of the root directory.
func (fs *FS) Root() uint64 { return fs.sb.rootIno }

// readAt reads exactly len(b) bytes at off of the volume.
func (fs *FS) readAt(b []byte, off int64) error {
	if off < 0 || off+int64(len(b)) > fs.size {
		return corruptf("read of %d bytes at %d is outside the %d-byte volume", len(b), off, fs.size)
	}
	n, err := fs.r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read %d bytes at %d: %w", len(b), off, err)
}

func (fs *FS) readBytes(off int64, n int) ([]byte, error) {
	b := make([]byte, n)
	return b, fs.readAt(b, off)
}

// checkMeta verifies a v5 metadata checksum unless told not to.
func (fs *FS) checkMeta(b []byte, crcOff int, what string) error {
	if fs.opts.IgnoreChecksums {
		return nil
	}
	return checkCRC(b, crcOff, what)
}

// inodeOffset locates inode ino on the volume.
func (fs *FS) inodeOffset(ino uint64) (int64, error) {
	sb := fs.sb
	agShift := uint(sb.agBlkLog) + uint(sb.inoPBLog)
	ag := ino >> agShift
	agb := ino >> sb.inoPBLog & (1<<sb.agBlkLog - 1)
	if agShift >= 64 || ag >= uint64(sb.agCount) || agb >= uint64(sb.agBlocks) {
		return 0, corruptf("inode number %d is outside the volume", ino)
	}
	blk := ag*uint64(sb.agBlocks) + agb
	off := int64(blk)<<sb.blockLog + int64(ino&(1<<sb.inoPBLog-1))<<sb.inodeLog
	if off+int64(sb.inodeSize) > fs.size {
		return 0, corruptf("inode %d at byte %d is past the end of the volume", ino, off)
	}
	return off, nil
}

// inode returns the decoded inode ino, from the cache when it can.
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
	off, err := fs.inodeOffset(ino)
	if err != nil {
		return nil, err
	}
	b, err := fs.inodeBytes(off)
	if err != nil {
		return nil, fmt.Errorf("inode %d: %w", ino, err)
	}
	if fs.sb.v5() && len(b) >= coreSizeV3 && binary.BigEndian.Uint16(b) == inodeMagic {
		if err := fs.checkMeta(b, inodeCRCOff, fmt.Sprintf("inode %d", ino)); err != nil {
			return nil, err
		}
		if got := binary.BigEndian.Uint64(b[inodeNumOff:]); got != ino {
			return nil, corruptf("inode %d: records itself as inode %d", ino, got)
		}
	}
	in, err := parseInode(b, ino)
	if err != nil {
		return nil, err
	}
	if in.mode == 0 {
		return nil, fmt.Errorf("inode %d: %w", ino, errFree)
	}
	return in, nil
}

// inodeWindow is the aligned span read for one inode: an inode chunk (64
// inodes of up to 512 bytes) or a block, whichever is larger.
const inodeWindow = 32 << 10

// inodeBytes returns a copy of the inode at off (inodeOffset checked that
// it lies in the volume), reading its whole aligned window once.
func (fs *FS) inodeBytes(off int64) ([]byte, error) {
	n := int64(fs.sb.inodeSize)
	win := max(int64(inodeWindow), int64(fs.sb.blockSize), n)
	start := off &^ (win - 1)
	if off+n > start+win { // cannot happen for power-of-two sizes
		return fs.readBytes(off, int(n))
	}
	w, ok := fs.iwins.get(start)
	if !ok {
		w = make([]byte, min(win, fs.size-start))
		if err := fs.readAt(w, start); err != nil {
			return nil, err
		}
		fs.iwins.add(start, w)
	}
	return append([]byte(nil), w[off-start:off-start+n]...), nil
}

// Stat returns the attributes of inode ino.
func (fs *FS) Stat(ino uint64) (Attr, error) {
	in, err := fs.inode(ino)
	if err != nil {
		return Attr{}, err
	}
	a := Attr{Ino: ino, Mode: uint32(in.mode), Nlink: in.nlink, Uid: in.uid, Gid: in.gid,
		Size: int64(in.size), Blocks: int64(in.nblocks << (fs.sb.blockLog - 9)),
		Atime: in.atime, Mtime: in.mtime, Ctime: in.ctime, Crtime: in.crtime,
		Flags: in.flags, Generation: in.gen}
	if a.Size < 0 {
		return Attr{}, corruptf("inode %d: size %d", ino, in.size)
	}
	if t := in.fileType(); t == sIFCHR || t == sIFBLK {
		a.Rdev = in.rdev()
	}
	return a, nil
}
