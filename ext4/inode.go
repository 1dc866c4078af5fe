package ext4

import (
	"encoding/binary"
	"time"
)

// Inode flags (i_flags).
const (
	inodeFlagEncrypt    = 0x800
	inodeFlagIndex      = 0x1000 // hashed (htree) directory
	inodeFlagHugeFile   = 0x40000
	inodeFlagExtents    = 0x80000
	inodeFlagEAInode    = 0x200000
	inodeFlagInlineData = 0x10000000
	inodeFlagCasefold   = 0x40000000
)

// File type bits of i_mode (as in Linux st_mode).
const (
	sIFMT   = 0xF000
	sIFSOCK = 0xC000
	sIFLNK  = 0xA000
	sIFREG  = 0x8000
	sIFBLK  = 0x6000
	sIFDIR  = 0x4000
	sIFCHR  = 0x2000
	sIFIFO  = 0x1000
)

// iBlockSize is the size of i_block: 15 block pointers or an extent root
// or inline data or a fast symlink target.
const iBlockSize = 60

// goodOldInodeSize is the size of the ext2 rev 0 inode; fields beyond it
// exist only when i_extra_isize covers them.
const goodOldInodeSize = 128

// Offsets of the inode checksum fields, zeroed when computing it.
const (
	inodeCsumLoOffset = 0x7C
	inodeCsumHiOffset = 0x82
)

// inode mirrors struct ext4_inode. Times are decoded to time.Time with the
// extra fields (34-bit seconds, nanoseconds) applied when present.
type inode struct {
	mode       uint16 // i_mode
	uid, gid   uint32 // i_uid | l_i_uid_high<<16, same for gid
	size       uint64 // i_size_lo | i_size_high<<32, bytes
	atime      time.Time
	ctime      time.Time
	mtime      time.Time
	crtime     time.Time // zero if the inode has no i_crtime
	dtime      uint32
	linksCount uint16 // i_links_count
	blocks     uint64 // i_blocks_lo | l_i_blocks_high<<32, units per flags
	flags      uint32 // i_flags
	block      [iBlockSize]byte
	generation uint32 // i_generation
	fileACL    uint64 // i_file_acl_lo | l_i_file_acl_high<<32: xattr block
	extraIsize uint16 // i_extra_isize
	checksum   uint32 // l_i_checksum_lo | i_checksum_hi<<16
	hasCsumHi  bool
	// extra is the in-inode space after 128+i_extra_isize (in-body xattrs).
	extra []byte
}

// parseInode decodes one on-disk inode record (s_inode_size bytes).
func parseInode(b []byte) (*inode, error) {
	if len(b) < goodOldInodeSize {
		return nil, corruptf("inode record of %d bytes", len(b))
	}
	le := binary.LittleEndian
	in := &inode{
		mode:       le.Uint16(b[0x0:]),
		uid:        uint32(le.Uint16(b[0x2:])) | uint32(le.Uint16(b[0x78:]))<<16,
		size:       uint64(le.Uint32(b[0x4:])) | uint64(le.Uint32(b[0x6C:]))<<32,
		dtime:      le.Uint32(b[0x14:]),
		gid:        uint32(le.Uint16(b[0x18:])) | uint32(le.Uint16(b[0x7A:]))<<16,
		linksCount: le.Uint16(b[0x1A:]),
		blocks:     uint64(le.Uint32(b[0x1C:])) | uint64(le.Uint16(b[0x74:]))<<32,
		flags:      le.Uint32(b[0x20:]),
		generation: le.Uint32(b[0x64:]),
		fileACL:    uint64(le.Uint32(b[0x68:])) | uint64(le.Uint16(b[0x76:]))<<32,
		checksum:   uint32(le.Uint16(b[inodeCsumLoOffset:])),
	}
	copy(in.block[:], b[0x28:0x28+iBlockSize])
	extraEnd := goodOldInodeSize
	if len(b) > goodOldInodeSize+2 {
		in.extraIsize = le.Uint16(b[0x80:])
		extraEnd += int(in.extraIsize)
		if extraEnd > len(b) || in.extraIsize%4 != 0 {
			return nil, corruptf("i_extra_isize %d in a %d-byte inode", in.extraIsize, len(b))
		}
		in.extra = b[extraEnd:]
	}
	has := func(off int) bool { return off+4 <= extraEnd }
	if has(inodeCsumHiOffset) {
		in.checksum |= uint32(le.Uint16(b[inodeCsumHiOffset:])) << 16
		in.hasCsumHi = true
	}
	field := func(sec, extra int) time.Time {
		s := int64(int32(le.Uint32(b[sec:])))
		if extra == 0 || !has(extra) {
			return time.Unix(s, 0)
		}
		x := le.Uint32(b[extra:])
		return time.Unix(s+int64(x&3)<<32, int64(x>>2))
	}
	in.atime = field(0x8, 0x8C)
	in.ctime = field(0xC, 0x84)
	in.mtime = field(0x10, 0x88)
	if has(0x90) {
		in.crtime = field(0x90, 0x94)
	}
	return in, nil
}

// maxFileSize is the largest i_size a file can have: what its block map
// addresses (2^32 blocks with extents; 12 direct blocks and single, double
// and triple indirect blocks otherwise), as e2fsck bounds it. Inline data
// and fast symlinks, which have no block map, get the smaller bound.
func maxFileSize(sb *superblock, in *inode) uint64 {
	bs := uint64(sb.blockSize())
	if in.flags&inodeFlagExtents != 0 {
		return bs << 32
	}
	p := bs / 4
	return (12 + p + p*p + p*p*p) * bs
}

func (in *inode) fileType() uint32 { return uint32(in.mode) & sIFMT }

func (in *inode) isDir() bool { return in.fileType() == sIFDIR }

// blocks512 is i_blocks in 512-byte units, as stat(2) reports it.
func (in *inode) blocks512(sb *superblock) uint64 {
	if sb.featureRoCompat&roCompatHugeFile == 0 {
		return in.blocks & 0xFFFFFFFF
	}
	if in.flags&inodeFlagHugeFile != 0 {
		return in.blocks * uint64(sb.blockSize()/512)
	}
	return in.blocks
}

// rdev decodes the device number of a block or character device from
// i_block (old 16-bit encoding in word 0, new 32-bit encoding in word 1)
// and returns it in the Linux userspace (glibc makedev) encoding.
func (in *inode) rdev() uint64 {
	le := binary.LittleEndian
	var major, minor uint64
	if old := le.Uint32(in.block[0:]); old != 0 {
		major, minor = uint64(old>>8&0xFF), uint64(old&0xFF)
	} else {
		d := le.Uint32(in.block[4:])
		major = uint64(d&0xFFF00) >> 8
		minor = uint64(d&0xFF) | uint64(d>>12)&0xFFF00
	}
	return major&0xFFFFF000<<32 | major&0xFFF<<8 | minor&0xFFFFFF00<<12 | minor&0xFF
}
