package ext4

import (
	"encoding/binary"
	"hash/crc32"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32c is the kernel's crc32c_le(seed, p): no pre or post inversion,
// which is what ext4_chksum computes.
func crc32c(seed uint32, p []byte) uint32 {
	return ^crc32.Update(^seed, castagnoli, p)
}

func crc32cU32(seed, v uint32) uint32 {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	return crc32c(seed, b[:])
}

// crc16 is the CRC-16 (poly 0x8005, reflected) used by uninit_bg group
// descriptor checksums (lib/crc16.c).
func crc16(crc uint16, p []byte) uint16 {
	for _, b := range p {
		crc ^= uint16(b)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}

// superblockCsum is ext4_superblock_csum.
func superblockCsum(b []byte) uint32 { return crc32c(^uint32(0), b[:0x3FC]) }

// groupDescCsum is ext4_group_desc_csum for descriptor b of group g.
func (fs *FS) groupDescCsum(g uint32, b []byte) uint16 {
	off := groupDescCsumOffset
	if fs.sb.hasMetadataCsum() {
		c := crc32cU32(fs.csumSeed, g)
		c = crc32c(c, b[:off])
		c = crc32c(c, []byte{0, 0})
		if off+2 < len(b) {
			c = crc32c(c, b[off+2:])
		}
		return uint16(c)
	}
	c := crc16(0xFFFF, fs.sb.uuid[:])
	var gb [4]byte
	binary.LittleEndian.PutUint32(gb[:], g)
	c = crc16(c, gb[:])
	c = crc16(c, b[:off])
	if off+2 < len(b) && fs.sb.has64bit() {
		c = crc16(c, b[off+2:])
	}
	return c
}
