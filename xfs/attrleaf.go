package xfs

import (
	"encoding/binary"
	"fmt"
)

// Attribute leaf and node blocks (xfs_attr_leafblock / xfs_attr3_leafblock,
// xfs_da_intnode / xfs_da3_intnode), one filesystem block each, starting
// with xfs_da_blkinfo: forw, back (logical blocks), magic (16 bits).
const (
	attrLeafMagic  = 0xFBEE
	attr3LeafMagic = 0x3BEE
	daNodeMagic    = 0xFEBE
	da3NodeMagic   = 0x3EBE
	attrRmtMagic   = 0x5841524D // "XARM"
	daCRCOff       = 12
	daOwnerOff     = 48
	attrLeafHdrV4  = 32
	attrLeafHdrV5  = 80
	daNodeHdrV4    = 16
	daNodeHdrV5    = 64
)

// leafAttrs walks from the root block down the leftmost path of the
// node tree to the first leaf, then along the leaves' forward links.
func (fs *FS) leafAttrs(in *inode) ([]rawAttr, error) {
	runs, err := fs.forkRuns(in, in.attrFork, in.aformat, in.anextents, "attribute")
	if err != nil || len(runs) == 0 {
		return nil, err // an empty fork in extents form holds nothing
	}
	seen := map[uint32]bool{}
	blk := uint32(0)
	var out []rawAttr
	for depth := 0; ; depth++ {
		if seen[blk] || depth > 1<<20 {
			return nil, corruptf("inode %d: attribute block %d reached twice (a loop)", in.ino, blk)
		}
		seen[blk] = true
		b, err := fs.daBlock(in.ino, runs, blk)
		if err != nil {
			return nil, err
		}
		switch binary.BigEndian.Uint16(b[8:]) {
		case daNodeMagic, da3NodeMagic:
			if len(out) > 0 {
				return nil, corruptf("inode %d: attribute block %d: a node among the leaves", in.ino, blk)
			}
			if blk, err = fs.firstChild(in.ino, blk, b); err != nil {
				return nil, err
			}
			continue
		}
		if out, err = fs.leafEntries(in.ino, blk, b, out); err != nil {
			return nil, err
		}
		if blk = binary.BigEndian.Uint32(b); blk == 0 {
			return out, nil
		}
	}
}

// daBlock reads logical block blk of the attribute fork and checks its
// magic and, on v5, checksum and owner.
func (fs *FS) daBlock(ino uint64, runs []run, blk uint32) ([]byte, error) {
	what := fmt.Sprintf("inode %d attribute block %d", ino, blk)
	b, err := fs.readFork(runs, uint64(blk), 1, what)
	if err != nil {
		return nil, err
	}
	m := binary.BigEndian.Uint16(b[8:])
	if fs.sb.v5() {
		if m != attr3LeafMagic && m != da3NodeMagic {
			return nil, corruptf("%s: magic %#04x", what, m)
		}
		if err := fs.checkMeta(b, daCRCOff, what); err != nil {
			return nil, err
		}
		if o := binary.BigEndian.Uint64(b[daOwnerOff:]); o != ino {
			return nil, corruptf("%s: owner %d", what, o)
		}
	} else if m != attrLeafMagic && m != daNodeMagic {
		return nil, corruptf("%s: magic %#04x", what, m)
	}
	return b, nil
}

// firstChild returns the block the first entry of node block b points to.
func (fs *FS) firstChild(ino uint64, blk uint32, b []byte) (uint32, error) {
	hdr, countOff := daNodeHdrV4, 12
	if fs.sb.v5() {
		hdr, countOff = daNodeHdrV5, 56
	}
	if n := int(binary.BigEndian.Uint16(b[countOff:])); n == 0 || hdr+8*n > len(b) {
		return 0, corruptf("inode %d attribute node %d: %d entries", ino, blk, n)
	}
	return binary.BigEndian.Uint32(b[hdr+4:]), nil
}

// leafEntries appends the entries of attribute leaf block b: an array of
// xfs_attr_leaf_entry (hashval, nameidx, flags, pad) pointing at
// xfs_attr_leaf_name_local (valuelen, namelen, name, value) or
// xfs_attr_leaf_name_remote (valueblk, valuelen, namelen, name).
func (fs *FS) leafEntries(ino uint64, blk uint32, b []byte, out []rawAttr) ([]rawAttr, error) {
	be := binary.BigEndian
	hdr, countOff := attrLeafHdrV4, 12
	if fs.sb.v5() {
		hdr, countOff = attrLeafHdrV5, 56
	}
	n := int(be.Uint16(b[countOff:]))
	if hdr+8*n > len(b) {
		return nil, corruptf("inode %d attribute leaf %d: %d entries", ino, blk, n)
	}
	for i := 0; i < n; i++ {
		e := b[hdr+8*i:]
		idx, fl := int(be.Uint16(e[4:])), e[6]
		a, err := leafName(b, idx, fl)
		if err != nil {
			return nil, fmt.Errorf("inode %d attribute leaf %d entry %d: %w", ino, blk, i, err)
		}
		out = append(out, a)
	}
	return out, nil
}

func leafName(b []byte, idx int, fl uint8) (rawAttr, error) {
	be := binary.BigEndian
	a := rawAttr{flags: fl}
	if fl&attrLocal != 0 {
		if idx+3 > len(b) {
			return a, corruptf("name at %d past the block", idx)
		}
		vl, nl := int(be.Uint16(b[idx:])), int(b[idx+2])
		if nl == 0 || idx+3+nl+vl > len(b) {
			return a, corruptf("name (%d bytes) and value (%d bytes) at %d overrun the block", nl, vl, idx)
		}
		a.name, a.value = string(b[idx+3:idx+3+nl]), b[idx+3+nl:idx+3+nl+vl]
		return a, nil
	}
	if idx+9 > len(b) {
		return a, corruptf("remote name at %d past the block", idx)
	}
	nl := int(b[idx+8])
	if nl == 0 || idx+9+nl > len(b) {
		return a, corruptf("remote name (%d bytes) at %d overruns the block", nl, idx)
	}
	a.remote, a.blk, a.vlen, a.name = true, be.Uint32(b[idx:]), be.Uint32(b[idx+4:]), string(b[idx+9:idx+9+nl])
	return a, nil
}
