package xfs

import (
	"encoding/binary"
	"time"
)

// inode mirrors struct xfs_dinode (libxfs/xfs_format.h): a big-endian core
// of 100 bytes (v1/v2) or 176 bytes (v3), then the data fork and, from
// di_forkoff*8 on, the attribute fork.
type inode struct {
	ino        uint64
	mode       uint16
	version    uint8
	format     uint8 // data fork format
	uid, gid   uint32
	nlink      uint32
	atime      time.Time
	mtime      time.Time
	ctime      time.Time
	crtime     time.Time
	size       uint64
	nblocks    uint64
	nextents   uint64
	anextents  uint64
	forkOff    uint8
	aformat    uint8
	flags      uint16
	flags2     uint64
	gen        uint32
	dataFork   []byte
	attrFork   []byte // nil when the inode has no attribute fork
	dataForkAt int    // offset of the data fork in the inode
}

const (
	inodeMagic   = 0x494E // "IN"
	coreSizeV2   = 100
	coreSizeV3   = 176
	inodeCRCOff  = 100
	inodeNumOff  = 152
	bigtimeEpoch = 1 << 31 // XFS_BIGTIME_EPOCH_OFFSET: seconds before 1970

	fmtDev     = 0
	fmtLocal   = 1
	fmtExtents = 2
	fmtBtree   = 3

	diflagRealtime = 0x0001
	diflag2Bigtime = 0x0008
	diflag2Nrext64 = 0x0010

	sIFMT   = 0o170000
	sIFSOCK = 0o140000
	sIFLNK  = 0o120000
	sIFREG  = 0o100000
	sIFBLK  = 0o060000
	sIFDIR  = 0o040000
	sIFCHR  = 0o020000
	sIFIFO  = 0o010000
)

// parseInode decodes the inode in b (sb_inodesize bytes) without checking
// its checksum (see FS.loadInode).
func parseInode(b []byte, ino uint64) (*inode, error) {
	be := binary.BigEndian
	if len(b) < coreSizeV2 {
		return nil, corruptf("inode %d: %d bytes", ino, len(b))
	}
	if m := be.Uint16(b); m != inodeMagic {
		return nil, corruptf("inode %d: magic %#04x, not IN", ino, m)
	}
	in := &inode{ino: ino, mode: be.Uint16(b[2:]), version: b[4], format: b[5],
		uid: be.Uint32(b[8:]), gid: be.Uint32(b[12:]), nlink: be.Uint32(b[16:]),
		size: be.Uint64(b[56:]), nblocks: be.Uint64(b[64:]),
		forkOff: b[82], aformat: b[83], flags: be.Uint16(b[90:]), gen: be.Uint32(b[92:])}
	core := coreSizeV2
	switch in.version {
	case 1:
		in.nlink = uint32(be.Uint16(b[6:]))
	case 2:
	case 3:
		if len(b) < coreSizeV3 {
			return nil, corruptf("inode %d: v3 inode in %d bytes", ino, len(b))
		}
		core = coreSizeV3
		in.flags2 = be.Uint64(b[120:])
	default:
		return nil, corruptf("inode %d: version %d", ino, in.version)
	}
	if in.flags2&diflag2Nrext64 != 0 {
		in.nextents, in.anextents = be.Uint64(b[24:]), uint64(be.Uint32(b[76:]))
	} else {
		in.nextents, in.anextents = uint64(be.Uint32(b[76:])), uint64(be.Uint16(b[80:]))
	}
	big := in.flags2&diflag2Bigtime != 0
	in.atime, in.mtime, in.ctime = xfsTime(b[32:], big), xfsTime(b[40:], big), xfsTime(b[48:], big)
	if in.version == 3 {
		in.crtime = xfsTime(b[144:], big)
	}
	return in, in.splitForks(b, core)
}

// splitForks slices the data and attribute forks out of the literal area.
func (in *inode) splitForks(b []byte, core int) error {
	in.dataForkAt = core
	lit := b[core:]
	if in.forkOff == 0 {
		in.dataFork = lit
		if in.aformat != fmtExtents && in.aformat != 0 || in.anextents != 0 {
			return corruptf("inode %d: attribute fork format %d without a fork offset", in.ino, in.aformat)
		}
		return nil
	}
	off := int(in.forkOff) * 8
	if off >= len(lit) {
		return corruptf("inode %d: attribute fork offset %d past the %d-byte literal area", in.ino, off, len(lit))
	}
	in.dataFork, in.attrFork = lit[:off], lit[off:]
	return nil
}

// xfsTime decodes an xfs_timestamp_t: seconds (signed 32-bit) and
// nanoseconds, or with bigtime nanoseconds since 1901-12-13.
func xfsTime(b []byte, big bool) time.Time {
	be := binary.BigEndian
	if big {
		t := be.Uint64(b)
		return time.Unix(int64(t/1e9)-bigtimeEpoch, int64(t%1e9))
	}
	ns := be.Uint32(b[4:])
	if ns >= 1e9 {
		ns = 0 // the kernel rejects such an inode; show the second
	}
	return time.Unix(int64(int32(be.Uint32(b))), int64(ns))
}

func (in *inode) fileType() uint32 { return uint32(in.mode) & sIFMT }
func (in *inode) isDir() bool      { return in.fileType() == sIFDIR }

// rdev decodes the device number in the data fork (xfs_dinode di_dev,
// sysv encoding: 14-bit major, 18-bit minor) to the Linux userspace
// (glibc makedev) encoding.
func (in *inode) rdev() uint64 {
	if len(in.dataFork) < 4 {
		return 0
	}
	d := binary.BigEndian.Uint32(in.dataFork)
	major, minor := uint64(d>>18), uint64(d&0x3FFFF)
	return major&0xFFFFF000<<32 | major&0xFFF<<8 | minor&0xFFFFFF00<<12 | minor&0xFF
}
