package xfs

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sort"
)

// Directory hash index: the leaf entries (xfs_dir2_leaf_entry: hashval,
// address, both be32) of a block directory's tail or of the leaf blocks
// at XFS_DIR2_LEAF_OFFSET, reached in node and B+tree directories through
// da-btree nodes (xfs_da_intnode entries: hashval, before). Addresses
// count 8-byte units of the directory's data space; 0 is a stale entry.
const (
	dir2Leaf1Magic = 0xD2F1
	dir2LeafNMagic = 0xD2FF
	dir3Leaf1Magic = 0x3DF1
	dir3LeafNMagic = 0x3DFF
	dirLeafHdrV4   = 16
	dirLeafHdrV5   = 64
	versionBorgBit = 0x4000 // XFS_SB_VERSION_BORGBIT: ASCII case-insensitive names
)

// daHashName is xfs_da_hashname.
func daHashName(name []byte) uint32 {
	var h uint32
	for ; len(name) >= 4; name = name[4:] {
		h = uint32(name[0])<<21 ^ uint32(name[1])<<14 ^ uint32(name[2])<<7 ^ uint32(name[3]) ^ bits.RotateLeft32(h, 7*4)
	}
	switch len(name) {
	case 3:
		return uint32(name[0])<<14 ^ uint32(name[1])<<7 ^ uint32(name[2]) ^ bits.RotateLeft32(h, 7*3)
	case 2:
		return uint32(name[0])<<7 ^ uint32(name[1]) ^ bits.RotateLeft32(h, 7*2)
	case 1:
		return uint32(name[0]) ^ bits.RotateLeft32(h, 7)
	}
	return h
}

// hashLookup finds name in a block, leaf or node directory through its
// hash index, reading only the blocks on the way (a lookup without a
// listing). ok is false when the index has no such name.
func (fs *FS) hashLookup(in *inode, name string) (e DirEntry, ok bool, err error) {
	runs, ok := fs.dirRuns.get(in.ino)
	if !ok {
		if runs, err = fs.forkRuns(in, in.dataFork, in.format, in.nextents, "data"); err != nil {
			return DirEntry{}, false, fmt.Errorf("directory %d: %w", in.ino, err)
		}
		fs.dirRuns.add(in.ino, runs)
	}
	h := hashLookup{fs: fs, in: in, runs: runs, name: name, hash: daHashName([]byte(name)),
		per: uint64(1) << fs.sb.dirBlkLog}
	if len(runs) > 0 && runs[len(runs)-1].lblk+runs[len(runs)-1].count == h.per {
		return h.block() // xfs_dir2_isblock: the fork ends after one directory block
	}
	return h.leaves()
}

type hashLookup struct {
	fs   *FS
	in   *inode
	runs []run
	name string
	hash uint32
	per  uint64 // fs blocks per directory block
	// The data block read last: names of one hash often share blocks.
	lastDB  uint64
	lastBuf []byte
}

// block searches the leaf entries at the tail of a single-block directory.
func (h *hashLookup) block() (DirEntry, bool, error) {
	b, err := h.fs.readFork(h.runs, 0, h.per, fmt.Sprintf("directory %d", h.in.ino))
	if err != nil {
		return DirEntry{}, false, err
	}
	_, end, err := h.fs.dataBlockBounds(h.in.ino, 0, b)
	if err != nil {
		return DirEntry{}, false, err
	}
	if m := binary.BigEndian.Uint32(b); m != dir2BlockMagic && m != dir3BlockMagic {
		return DirEntry{}, false, corruptf("directory %d: one block of data, magic %#08x is not a single-block directory", h.in.ino, m)
	}
	e, ok, _, err := h.scan(b[end:len(b)-8], 0, b)
	return e, ok, err
}

// leaves walks the da-btree from its root at the leaf offset to the leaf
// that would hold the hash, and on along the forward links while the
// hash goes on (equal hashes may span leaves).
func (h *hashLookup) leaves() (DirEntry, bool, error) {
	blk := uint64(leafOffset) >> h.fs.sb.blockLog
	seen := map[uint64]bool{}
	for levels := 0; ; {
		if seen[blk] {
			return DirEntry{}, false, corruptf("directory %d: leaf block %d reached twice (a loop)", h.in.ino, blk)
		}
		seen[blk] = true
		b, hdr, err := h.leafBlock(blk)
		if err != nil {
			return DirEntry{}, false, err
		}
		if m := binary.BigEndian.Uint16(b[8:]); m == daNodeMagic || m == da3NodeMagic {
			if levels++; levels > maxBtreeLvl {
				return DirEntry{}, false, corruptf("directory %d: node block %d is deeper than %d levels", h.in.ino, blk, maxBtreeLvl)
			}
			if blk, err = h.child(blk, b, hdr); err != nil {
				return DirEntry{}, false, err
			}
			continue
		}
		n := int(binary.BigEndian.Uint16(b[hdr-4-4*btoi(h.fs.sb.v5()):]))
		if n > (len(b)-hdr)/8 {
			return DirEntry{}, false, corruptf("directory %d leaf block %d: %d entries do not fit", h.in.ino, blk, n)
		}
		e, ok, more, err := h.scan(b[hdr:hdr+n*8], -1, nil)
		if err != nil || ok || !more {
			return e, ok, err
		}
		if blk = uint64(binary.BigEndian.Uint32(b)); blk == 0 {
			return DirEntry{}, false, nil
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// leafBlock reads directory block blk of the leaf space and checks its
// magic, and on v5 its checksum and owner; it returns the header size.
func (h *hashLookup) leafBlock(blk uint64) ([]byte, int, error) {
	fs, ino := h.fs, h.in.ino
	what := fmt.Sprintf("directory %d leaf block %d", ino, blk)
	b, err := fs.readFork(h.runs, blk, h.per, what)
	if err != nil {
		return nil, 0, err
	}
	m := binary.BigEndian.Uint16(b[8:])
	if !fs.sb.v5() {
		switch m {
		case dir2Leaf1Magic, dir2LeafNMagic:
			return b, dirLeafHdrV4, nil
		case daNodeMagic:
			return b, daNodeHdrV4, nil
		}
		return nil, 0, corruptf("%s: magic %#04x", what, m)
	}
	if m != dir3Leaf1Magic && m != dir3LeafNMagic && m != da3NodeMagic {
		return nil, 0, corruptf("%s: magic %#04x", what, m)
	}
	if err := fs.checkMeta(b, daCRCOff, what); err != nil {
		return nil, 0, err
	}
	if o := binary.BigEndian.Uint64(b[daOwnerOff:]); o != ino {
		return nil, 0, corruptf("%s: owner %d", what, o)
	}
	return b, dirLeafHdrV5, nil
}

// child picks the subtree of a da-btree node whose largest hash is the
// first at or above the one looked for.
func (h *hashLookup) child(blk uint64, b []byte, hdr int) (uint64, error) {
	n := int(binary.BigEndian.Uint16(b[hdr-4-4*btoi(h.fs.sb.v5()):]))
	if n == 0 || n > (len(b)-hdr)/8 {
		return 0, corruptf("directory %d node block %d: %d entries", h.in.ino, blk, n)
	}
	es := b[hdr : hdr+n*8]
	i := sort.Search(n, func(i int) bool { return binary.BigEndian.Uint32(es[i*8:]) >= h.hash })
	if i == n {
		i = n - 1 // past every hash: the name is not there, the last leaf says so
	}
	return uint64(binary.BigEndian.Uint32(es[i*8+4:])), nil
}

// scan looks through sorted leaf entries for the hash and checks each
// candidate's name in its data block. db0 is the data block that blk
// holds (a single-block directory), or -1. more says the last entry
// still had the hash, so the next leaf may hold more.
func (h *hashLookup) scan(es []byte, db0 int64, blk []byte) (e DirEntry, ok, more bool, err error) {
	be := binary.BigEndian
	n := len(es) / 8
	i := sort.Search(n, func(i int) bool { return be.Uint32(es[i*8:]) >= h.hash })
	for ; i < n && be.Uint32(es[i*8:]) == h.hash; i++ {
		addr := be.Uint32(es[i*8+4:])
		if addr == 0 {
			continue // stale
		}
		e, ok, err := h.candidate(uint64(addr)<<3, db0, blk)
		if err != nil || ok {
			return e, ok, false, err
		}
	}
	return DirEntry{}, false, i == n && n > 0, nil
}

// candidate reads the data entry at byte off of the data space and
// returns it if it has the name.
func (h *hashLookup) candidate(off uint64, db0 int64, b []byte) (DirEntry, bool, error) {
	fs, ino := h.fs, h.in.ino
	dbl := uint(fs.sb.blockLog) + uint(fs.sb.dirBlkLog)
	db, at := off>>dbl, int(off&(1<<dbl-1))
	lblk := db * h.per
	if lblk >= uint64(leafOffset)>>fs.sb.blockLog {
		return DirEntry{}, false, corruptf("directory %d: hash entry points past the data space (byte %d)", ino, off)
	}
	switch {
	case db0 >= 0 && uint64(db0) == db:
	case h.lastBuf != nil && h.lastDB == db:
		b = h.lastBuf
	default:
		var err error
		if b, err = fs.readFork(h.runs, lblk, h.per, fmt.Sprintf("directory %d", ino)); err != nil {
			return DirEntry{}, false, err
		}
		h.lastDB, h.lastBuf = db, b
	}
	start, end, err := fs.dataBlockBounds(ino, lblk, b)
	if err != nil {
		return DirEntry{}, false, err
	}
	if at < start || at+dirMinEntry > end {
		return DirEntry{}, false, corruptf("directory %d block %d: hash entry points at offset %d, outside the entries", ino, lblk, at)
	}
	nl := int(b[at+8])
	if at+9+nl+1 > end {
		return DirEntry{}, false, corruptf("directory %d block %d: entry at %d overruns the data area", ino, lblk, at)
	}
	if string(b[at+9:at+9+nl]) != h.name {
		return DirEntry{}, false, nil
	}
	var ftype uint8
	if fs.sb.hasFType() {
		ftype = b[at+9+nl]
	}
	e, err := fs.entry(ino, b[at+9:at+9+nl], binary.BigEndian.Uint64(b[at:]), ftype, fmt.Sprintf("block %d offset %d", lblk, at))
	return e, err == nil, err
}
