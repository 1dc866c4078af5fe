package xfs

import (
	"encoding/binary"
	"fmt"
)

// Range is a byte range of the volume.
type Range struct {
	Off, Len int64
}

// The free space of each allocation group is in its by-block-number
// B+tree (xfs_alloc_rec: startblock, blockcount, AG-relative), whose root
// the AGF (xfs_agf, in the group's second sector) names.
const (
	agfMagic    = 0x58414746 // "XAGF"
	agfCRCOff   = 216
	abtbMagic   = 0x41425442 // "ABTB"
	ab3bMagic   = 0x41423342 // "AB3B"
	sblockHdrV4 = 16
	sblockHdrV5 = 56
	sblockCRC   = 52
)

// Allocation lists the used byte ranges of the volume in order:
// everything the free-space B+trees do not list as free (data, metadata,
// the log, and the free lists' blocks).
func (fs *FS) Allocation() ([]Range, error) {
	var out []Range
	bs := int64(fs.sb.blockSize)
	for ag := uint32(0); ag < fs.sb.agCount; ag++ {
		free, err := fs.agFree(ag)
		if err != nil {
			return nil, fmt.Errorf("xfs: allocation group %d: %w", ag, err)
		}
		base := int64(ag) * int64(fs.sb.agBlocks)
		agLen := min(int64(fs.sb.agBlocks), int64(fs.sb.dblocks)-base)
		next := int64(0)
		for _, f := range free {
			if f[0] < next || f[0]+f[1] > agLen {
				return nil, corruptf("allocation group %d: free extent %d+%d out of order or range", ag, f[0], f[1])
			}
			if f[0] > next {
				out = append(out, Range{(base + next) * bs, (f[0] - next) * bs})
			}
			next = f[0] + f[1]
		}
		if next < agLen {
			out = append(out, Range{(base + next) * bs, (agLen - next) * bs})
		}
	}
	return out, nil
}

// agFree returns the free extents (start, length in blocks) of group ag.
func (fs *FS) agFree(ag uint32) ([][2]int64, error) {
	sb := fs.sb
	agOff := int64(ag) * int64(sb.agBlocks) << sb.blockLog
	b, err := fs.readBytes(agOff+int64(sb.sectSize), int(sb.sectSize))
	if err != nil {
		return nil, fmt.Errorf("AGF: %w", err)
	}
	be := binary.BigEndian
	if m := be.Uint32(b); m != agfMagic || be.Uint32(b[8:]) != ag {
		return nil, corruptf("AGF: magic %#08x, group %d", m, be.Uint32(b[8:]))
	}
	if sb.v5() {
		if err := fs.checkMeta(b, agfCRCOff, "AGF"); err != nil {
			return nil, err
		}
	}
	root, levels := be.Uint32(b[16:]), be.Uint32(b[28:])
	if levels == 0 || levels > maxBtreeLvl {
		return nil, corruptf("AGF: free-space B+tree of %d levels", levels)
	}
	var out [][2]int64
	seen := map[uint32]bool{}
	return out, fs.bnoNode(ag, agOff, root, int(levels)-1, seen, &out)
}

func (fs *FS) bnoNode(ag uint32, agOff int64, blk uint32, level int, seen map[uint32]bool, out *[][2]int64) error {
	if blk >= fs.sb.agBlocks || seen[blk] {
		return corruptf("free-space B+tree block %d: outside the group or reached twice", blk)
	}
	seen[blk] = true
	b, err := fs.readBytes(agOff+int64(blk)<<fs.sb.blockLog, int(fs.sb.blockSize))
	if err != nil {
		return fmt.Errorf("free-space B+tree block %d: %w", blk, err)
	}
	be := binary.BigEndian
	hdr, magic := sblockHdrV4, uint32(abtbMagic)
	if fs.sb.v5() {
		hdr, magic = sblockHdrV5, ab3bMagic
	}
	what := fmt.Sprintf("free-space B+tree block %d", blk)
	if m := be.Uint32(b); m != magic {
		return corruptf("%s: magic %#08x", what, m)
	}
	if fs.sb.v5() {
		if err := fs.checkMeta(b, sblockCRC, what); err != nil {
			return err
		}
	}
	if int(be.Uint16(b[4:])) != level {
		return corruptf("%s: level %d, expected %d", what, be.Uint16(b[4:]), level)
	}
	n := int(be.Uint16(b[6:]))
	if level == 0 {
		if hdr+8*n > len(b) {
			return corruptf("%s: %d records", what, n)
		}
		for i := 0; i < n; i++ {
			*out = append(*out, [2]int64{int64(be.Uint32(b[hdr+8*i:])), int64(be.Uint32(b[hdr+8*i+4:]))})
		}
		return nil
	}
	maxr := (len(b) - hdr) / 12
	if n == 0 || n > maxr {
		return corruptf("%s: %d keys", what, n)
	}
	for i := 0; i < n; i++ {
		if err := fs.bnoNode(ag, agOff, be.Uint32(b[hdr+maxr*8+4*i:]), level-1, seen, out); err != nil {
			return err
		}
	}
	return nil
}
