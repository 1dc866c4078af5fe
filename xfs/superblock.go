package xfs

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
)

// superblock mirrors struct xfs_dsb (libxfs/xfs_format.h): big-endian,
// in the first sector of the volume. Sizes are in bytes, counts in
// filesystem blocks unless named otherwise.
type superblock struct {
	blockSize    uint32
	dblocks      uint64
	rblocks      uint64
	uuid         [16]byte
	logStart     uint64 // fsblock of the internal log (0: external log)
	rootIno      uint64
	agBlocks     uint32
	agCount      uint32
	logBlocks    uint32
	versionNum   uint16
	sectSize     uint16
	inodeSize    uint16
	inoPerBlock  uint16
	fname        [12]byte
	blockLog     uint8
	sectLog      uint8
	inodeLog     uint8
	inoPBLog     uint8
	agBlkLog     uint8
	inProgress   uint8
	icount       uint64
	ifree        uint64
	fdblocks     uint64
	dirBlkLog    uint8
	features2    uint32
	compat       uint32
	roCompat     uint32
	incompat     uint32
	logIncompat  uint32
	crc          uint32
	spinoAlign   uint32
	metaUUID     [16]byte
	hasV5Section bool
}

const (
	sbMagic    = 0x58465342 // "XFSB"
	sbCRCOff   = 224
	sbV4Size   = 208 // through sb_bad_features2 and padding
	sbV5Size   = 264
	maxAGCount = 1 << 24

	versionAttr     = 0x0010
	versionNlink    = 0x0020
	versionDirV2    = 0x2000
	versionMoreBits = 0x8000

	features2Attr2 = 0x0008
	features2CRC   = 0x0100
	features2FType = 0x0200

	incompatFType    = 1 << 0
	incompatSpinodes = 1 << 1
	incompatMetaUUID = 1 << 2
	incompatBigtime  = 1 << 3
	incompatRepair   = 1 << 4
	incompatNrext64  = 1 << 5
	incompatExchange = 1 << 6
	incompatParent   = 1 << 7
	incompatKnown    = incompatFType | incompatSpinodes | incompatMetaUUID | incompatBigtime | incompatRepair | incompatNrext64 | incompatExchange | incompatParent

	roCompatFinobt   = 1 << 0
	roCompatRmapbt   = 1 << 1
	roCompatReflink  = 1 << 2
	roCompatInobtCnt = 1 << 3
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// xfsCRC is the XFS metadata checksum of b with the little-endian
// checksum field at off taken as zero (xfs_start_cksum/xfs_end_cksum).
func xfsCRC(b []byte, off int) uint32 {
	var zero [4]byte
	c := crc32.Update(0, castagnoli, b[:off])
	c = crc32.Update(c, castagnoli, zero[:])
	return crc32.Update(c, castagnoli, b[off+4:])
}

// checkCRC verifies the checksum stored at off of b (a metadata block).
func checkCRC(b []byte, off int, what string) error {
	if off+4 > len(b) {
		return corruptf("%s: %d bytes, no room for a checksum", what, len(b))
	}
	want := binary.LittleEndian.Uint32(b[off:])
	if got := xfsCRC(b, off); got != want {
		return corruptf("%s: checksum %#08x, computed %#08x", what, want, got)
	}
	return nil
}

func parseSuperblock(b []byte) (*superblock, error) {
	be := binary.BigEndian
	if len(b) < sbV4Size {
		return nil, corruptf("superblock: %d bytes", len(b))
	}
	if m := be.Uint32(b); m != sbMagic {
		return nil, corruptf("superblock: magic %#08x, not XFSB", m)
	}
	sb := &superblock{
		blockSize: be.Uint32(b[4:]), dblocks: be.Uint64(b[8:]), rblocks: be.Uint64(b[16:]),
		logStart: be.Uint64(b[48:]), rootIno: be.Uint64(b[56:]),
		agBlocks: be.Uint32(b[84:]), agCount: be.Uint32(b[88:]), logBlocks: be.Uint32(b[96:]),
		versionNum: be.Uint16(b[100:]), sectSize: be.Uint16(b[102:]), inodeSize: be.Uint16(b[104:]),
		inoPerBlock: be.Uint16(b[106:]), blockLog: b[120], sectLog: b[121], inodeLog: b[122],
		inoPBLog: b[123], agBlkLog: b[124], inProgress: b[126],
		icount: be.Uint64(b[128:]), ifree: be.Uint64(b[136:]), fdblocks: be.Uint64(b[144:]),
		dirBlkLog: b[192], features2: be.Uint32(b[200:]),
	}
	copy(sb.uuid[:], b[32:48])
	copy(sb.fname[:], b[108:120])
	if sb.version() == 5 {
		if len(b) < sbV5Size {
			return nil, corruptf("v5 superblock: %d bytes", len(b))
		}
		sb.hasV5Section = true
		sb.compat, sb.roCompat = be.Uint32(b[208:]), be.Uint32(b[212:])
		sb.incompat, sb.logIncompat = be.Uint32(b[216:]), be.Uint32(b[220:])
		sb.crc, sb.spinoAlign = binary.LittleEndian.Uint32(b[sbCRCOff:]), be.Uint32(b[228:])
		copy(sb.metaUUID[:], b[248:264])
	}
	return sb, sb.validate()
}

// validate checks the geometry the reader's arithmetic relies on.
func (sb *superblock) validate() error {
	switch {
	case sb.version() != 4 && sb.version() != 5:
		return unsupportedf("superblock version %d", sb.version())
	case sb.blockLog < 9 || sb.blockLog > 16 || sb.blockSize != 1<<sb.blockLog:
		return corruptf("superblock: block size %d (log %d)", sb.blockSize, sb.blockLog)
	case sb.sectLog < 9 || sb.sectLog > 15 || uint32(sb.sectSize) != 1<<sb.sectLog:
		return corruptf("superblock: sector size %d (log %d)", sb.sectSize, sb.sectLog)
	case sb.inodeLog < 8 || sb.inodeLog > 11 || uint32(sb.inodeSize) != 1<<sb.inodeLog || sb.inodeLog > sb.blockLog:
		return corruptf("superblock: inode size %d (log %d)", sb.inodeSize, sb.inodeLog)
	case sb.inoPBLog != sb.blockLog-sb.inodeLog || uint32(sb.inoPerBlock) != 1<<sb.inoPBLog:
		return corruptf("superblock: %d inodes per block (log %d)", sb.inoPerBlock, sb.inoPBLog)
	case sb.agBlkLog > 31 || sb.agBlocks == 0 || uint64(sb.agBlocks) > 1<<sb.agBlkLog || (sb.agBlkLog > 0 && uint64(sb.agBlocks) <= 1<<(sb.agBlkLog-1)):
		return corruptf("superblock: %d blocks per allocation group (log %d)", sb.agBlocks, sb.agBlkLog)
	case sb.agCount == 0 || sb.agCount > maxAGCount:
		return corruptf("superblock: %d allocation groups", sb.agCount)
	case sb.dblocks == 0 || sb.dblocks > uint64(sb.agCount)*uint64(sb.agBlocks):
		return corruptf("superblock: %d data blocks in %d groups of %d", sb.dblocks, sb.agCount, sb.agBlocks)
	case int(sb.blockLog)+int(sb.dirBlkLog) > 16:
		return corruptf("superblock: directory block size 2^%d", int(sb.blockLog)+int(sb.dirBlkLog))
	case sb.version() == 4 && sb.versionNum&versionDirV2 == 0:
		return unsupportedf("version 1 directories")
	}
	return nil
}

func (sb *superblock) version() int { return int(sb.versionNum & 0xF) }
func (sb *superblock) v5() bool     { return sb.version() == 5 }
func (sb *superblock) hasFType() bool {
	if sb.v5() {
		return sb.incompat&incompatFType != 0
	}
	return sb.versionNum&versionMoreBits != 0 && sb.features2&features2FType != 0
}

// checkFeatures refuses features that change how the volume must be read.
func (sb *superblock) checkFeatures() error {
	if u := sb.incompat &^ incompatKnown; sb.v5() && u != 0 {
		return unsupportedf("incompatible features %#x", u)
	}
	if sb.inProgress != 0 {
		return corruptf("superblock: mkfs did not finish (sb_inprogress)")
	}
	return nil
}

// features lists the feature names as xfs_info would show them.
func (sb *superblock) features() []string {
	var f []string
	add := func(ok bool, name string) {
		if ok {
			f = append(f, name)
		}
	}
	add(sb.v5(), "crc")
	add(sb.hasFType(), "ftype")
	add(sb.incompat&incompatSpinodes != 0, "sparse")
	add(sb.incompat&incompatBigtime != 0, "bigtime")
	add(sb.incompat&incompatNrext64 != 0, "nrext64")
	add(sb.incompat&incompatParent != 0, "parent")
	add(sb.incompat&incompatRepair != 0, "needsrepair")
	add(sb.roCompat&roCompatFinobt != 0, "finobt")
	add(sb.roCompat&roCompatRmapbt != 0, "rmapbt")
	add(sb.roCompat&roCompatReflink != 0, "reflink")
	add(sb.roCompat&roCompatInobtCnt != 0, "inobtcount")
	add(sb.rblocks != 0, "realtime")
	return f
}

func (sb *superblock) label() string {
	return strings.TrimRight(string(sb.fname[:]), "\x00")
}

func formatUUID(u [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
