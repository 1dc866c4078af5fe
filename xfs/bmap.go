package xfs

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
)

// run maps count filesystem blocks of a fork from logical block lblk to
// the volume bytes at phys (one extent: extents never span groups).
type run struct {
	lblk, count uint64
	phys        int64
	unwritten   bool
}

// xfs_bmbt_rec: 128 bits, big-endian: flag (1), startoff (54),
// startblock (52), blockcount (21).
type bmbtRec struct {
	flag       bool
	startOff   uint64
	startBlock uint64
	count      uint64
}

const (
	bmapMagic    = 0x424D4150 // "BMAP"
	bmap3Magic   = 0x424D4133 // "BMA3"
	lblockHdrV4  = 24         // xfs_btree_block long form
	lblockHdrV5  = 72
	lblockCRCOff = 64
	maxBtreeLvl  = 10
	leafOffset   = 1 << 35 // XFS_DIR2_LEAF_OFFSET: directory leaf space
)

func parseBmbtRec(b []byte) bmbtRec {
	be := binary.BigEndian
	l0, l1 := be.Uint64(b), be.Uint64(b[8:])
	return bmbtRec{flag: l0>>63 != 0, startOff: l0 & (1<<63 - 1) >> 9,
		startBlock: (l0&(1<<9-1))<<43 | l1>>21, count: l1 & (1<<21 - 1)}
}

// forkRuns maps a fork in extents or btree format. nrecs is the inode's
// extent count for the fork; what names the fork in errors.
func (fs *FS) forkRuns(in *inode, fork []byte, format uint8, nrecs uint64, what string) ([]run, error) {
	var recs []bmbtRec
	switch format {
	case fmtExtents:
		if nrecs > uint64(len(fork)/16) {
			return nil, corruptf("inode %d %s fork: %d extents in %d bytes", in.ino, what, nrecs, len(fork))
		}
		for i := uint64(0); i < nrecs; i++ {
			recs = append(recs, parseBmbtRec(fork[i*16:]))
		}
	case fmtBtree:
		w := bmapWalker{fs: fs, ino: in.ino, what: what, seen: map[int64]bool{}}
		if err := w.root(fork, &recs); err != nil {
			return nil, err
		}
	default:
		return nil, corruptf("inode %d %s fork: format %d has no block map", in.ino, what, format)
	}
	return fs.toRuns(in.ino, what, recs)
}

// toRuns checks records for order and range and converts them.
func (fs *FS) toRuns(ino uint64, what string, recs []bmbtRec) ([]run, error) {
	runs := make([]run, 0, len(recs))
	var next uint64
	for i, r := range recs {
		if r.count == 0 || r.startOff < next {
			return nil, corruptf("inode %d %s fork: extent %d (offset %d, %d blocks) out of order", ino, what, i, r.startOff, r.count)
		}
		phys, err := fs.fsbOffset(r.startBlock, r.count)
		if err != nil {
			return nil, fmt.Errorf("inode %d %s fork: extent %d: %w", ino, what, i, err)
		}
		next = r.startOff + r.count
		if next > math.MaxInt64>>fs.sb.blockLog {
			return nil, corruptf("inode %d %s fork: extent %d ends past the largest file offset", ino, what, i)
		}
		runs = append(runs, run{lblk: r.startOff, count: r.count, phys: phys, unwritten: r.flag})
	}
	return runs, nil
}

// fsbOffset converts a filesystem block number (AG number and AG block)
// of an extent of count blocks to a volume byte offset.
func (fs *FS) fsbOffset(fsb, count uint64) (int64, error) {
	sb := fs.sb
	ag, agb := fsb>>sb.agBlkLog, fsb&(1<<sb.agBlkLog-1)
	if ag >= uint64(sb.agCount) || agb+count > uint64(sb.agBlocks) {
		return 0, corruptf("block %d (group %d block %d, %d blocks) is outside the volume", fsb, ag, agb, count)
	}
	lin := ag*uint64(sb.agBlocks) + agb
	if lin+count > sb.dblocks {
		return 0, corruptf("block %d (%d blocks) is past the %d data blocks", fsb, count, sb.dblocks)
	}
	return int64(lin) << sb.blockLog, nil
}

// bmapWalker reads a bmap B+tree (xfs_bmdr_block root in the inode,
// xfs_btree_block long-form nodes and leaves on disk).
type bmapWalker struct {
	fs   *FS
	ino  uint64
	what string
	seen map[int64]bool
}

func (w *bmapWalker) root(b []byte, recs *[]bmbtRec) error {
	if len(b) < 4 {
		return corruptf("inode %d %s fork: btree root in %d bytes", w.ino, w.what, len(b))
	}
	be := binary.BigEndian
	level, n := int(be.Uint16(b)), int(be.Uint16(b[2:]))
	maxr := (len(b) - 4) / 16
	if level == 0 || level > maxBtreeLvl || n == 0 || n > maxr {
		return corruptf("inode %d %s fork: btree root level %d with %d of at most %d keys", w.ino, w.what, level, n, maxr)
	}
	for i := 0; i < n; i++ {
		if err := w.node(be.Uint64(b[4+maxr*8+i*8:]), level-1, recs); err != nil {
			return err
		}
	}
	return nil
}

func (w *bmapWalker) node(fsb uint64, level int, recs *[]bmbtRec) error {
	fs := w.fs
	off, err := fs.fsbOffset(fsb, 1)
	if err != nil {
		return fmt.Errorf("inode %d %s fork: btree block: %w", w.ino, w.what, err)
	}
	if w.seen[off] {
		return corruptf("inode %d %s fork: btree block %d reached twice (a loop)", w.ino, w.what, fsb)
	}
	w.seen[off] = true
	b, err := fs.readBytes(off, int(fs.sb.blockSize))
	if err != nil {
		return fmt.Errorf("inode %d %s fork: btree block %d: %w", w.ino, w.what, fsb, err)
	}
	hdr, err := fs.checkLBlock(b, fsb, w.ino)
	if err != nil {
		return fmt.Errorf("inode %d %s fork: %w", w.ino, w.what, err)
	}
	be := binary.BigEndian
	gotLevel, n := int(be.Uint16(b[4:])), int(be.Uint16(b[6:]))
	if gotLevel != level {
		return corruptf("inode %d %s fork: btree block %d has level %d, expected %d", w.ino, w.what, fsb, gotLevel, level)
	}
	if level == 0 {
		if n > (len(b)-hdr)/16 {
			return corruptf("inode %d %s fork: btree leaf %d has %d records", w.ino, w.what, fsb, n)
		}
		for i := 0; i < n; i++ {
			*recs = append(*recs, parseBmbtRec(b[hdr+i*16:]))
		}
		return nil
	}
	maxr := (len(b) - hdr) / 16
	if n == 0 || n > maxr {
		return corruptf("inode %d %s fork: btree node %d has %d keys", w.ino, w.what, fsb, n)
	}
	for i := 0; i < n; i++ {
		if err := w.node(be.Uint64(b[hdr+maxr*8+i*8:]), level-1, recs); err != nil {
			return err
		}
	}
	return nil
}

// checkLBlock checks a long-form btree block's magic, and on v5 its
// checksum, location and owner; it returns the header size.
func (fs *FS) checkLBlock(b []byte, fsb, owner uint64) (int, error) {
	m := binary.BigEndian.Uint32(b)
	if !fs.sb.v5() {
		if m != bmapMagic {
			return 0, corruptf("btree block %d: magic %#08x, not BMAP", fsb, m)
		}
		return lblockHdrV4, nil
	}
	if m != bmap3Magic {
		return 0, corruptf("btree block %d: magic %#08x, not BMA3", fsb, m)
	}
	if err := fs.checkMeta(b, lblockCRCOff, fmt.Sprintf("btree block %d", fsb)); err != nil {
		return 0, err
	}
	if o := binary.BigEndian.Uint64(b[56:]); o != owner {
		return 0, corruptf("btree block %d: owner %d, not inode %d", fsb, o, owner)
	}
	return lblockHdrV5, nil
}

// findRun returns the index of the run holding lblk, or -1.
func findRun(runs []run, lblk uint64) int {
	i := sort.Search(len(runs), func(i int) bool { return runs[i].lblk+runs[i].count > lblk })
	if i < len(runs) && runs[i].lblk <= lblk {
		return i
	}
	return -1
}
