package ext4

import (
	"errors"
	"fmt"
	"time"
)

// DeletedState says what is left of a deleted inode's content.
type DeletedState uint8

const (
	// Recoverable: every block of the file is free in the block bitmap,
	// so nothing has claimed it since the delete (inline data lives in
	// the inode itself).
	Recoverable DeletedState = iota + 1
	// Reused: some block of the file is allocated again; its old content
	// is not shown.
	Reused
	// NoData: the delete cleared the block map (the kernel and fuse2fs
	// truncate before freeing); only the size and times are left.
	NoData
	// Damaged: the block map cannot be read (a freed extent tree block
	// reused, or garbage).
	Damaged
)

func (s DeletedState) String() string {
	switch s {
	case Recoverable:
		return "recoverable"
	case Reused:
		return "reused"
	case NoData:
		return "no-data"
	case Damaged:
		return "damaged"
	}
	return fmt.Sprintf("DeletedState(%d)", uint8(s))
}

// ErrNotRecoverable is wrapped by OpenDeleted when the inode's content is
// gone or no longer its own.
var ErrNotRecoverable = errors.New("ext4: deleted inode is not recoverable")

// Deleted is an inode that is free in the inode bitmap but still holds a
// file's metadata: what `fls -d` and `istat` of The Sleuth Kit show.
type Deleted struct {
	Attr  Attr
	Dtime time.Time // i_dtime; zero when not set
	State DeletedState
	Note  string // why it is not recoverable; empty when it is
}

// DeletedInodes lists the regular files among the inodes that are free in
// the inode bitmap, in inode order. It reads each group's inode bitmap and
// the used part of its inode table (bg_itable_unused bounds it), so it
// costs a read of the inode tables.
func (fs *FS) DeletedInodes() ([]Deleted, error) {
	bm := fs.newBlockBitmaps()
	var out []Deleted
	for g := range uint32(len(fs.groups)) {
		if err := fs.deletedInGroup(g, bm, &out); err != nil {
			return out, err
		}
	}
	return out, nil
}

// usedInodes is how many inodes of group g were ever handed out, and
// whether the group's inode table is worth reading at all.
func (fs *FS) usedInodes(g uint32) uint32 {
	gd, n := fs.groups[g], fs.sb.inodesPerGroup
	csum := fs.sb.featureRoCompat&(roCompatGdtCsum|roCompatMetadataCsum) != 0
	switch {
	case fs.badGroups[g] != nil:
		return 0
	case csum && gd.flags&bgInodeUninit != 0:
		return 0
	case csum && gd.itableUnused <= n:
		return n - gd.itableUnused
	}
	return n
}

// deletedInGroup appends group g's deleted regular files to out.
func (fs *FS) deletedInGroup(g uint32, bm *blockBitmaps, out *[]Deleted) error {
	n := fs.usedInodes(g)
	if n == 0 {
		return nil
	}
	gd := fs.groups[g]
	ibm, err := fs.readBlock(gd.inodeBitmap)
	if err != nil {
		return fmt.Errorf("ext4: group %d inode bitmap: %w", g, err)
	}
	n = min(n, uint32(len(ibm))*8)
	isz := int64(fs.sb.inodeSize)
	const chunk = 64 << 10
	per := uint32(max(chunk/isz, 1))
	for first := uint32(0); first < n; first += per {
		cnt := min(per, n-first)
		if allSet(ibm, first, cnt) {
			continue
		}
		off := int64(gd.inodeTable)*fs.bs + int64(first)*isz
		buf := make([]byte, int64(cnt)*isz)
		if err := fs.readAt(buf, off); err != nil {
			return fmt.Errorf("ext4: group %d inode table: %w", g, err)
		}
		for i := range cnt {
			idx := first + i
			if ibm[idx/8]>>(idx%8)&1 != 0 {
				continue
			}
			ino := uint64(g)*uint64(fs.sb.inodesPerGroup) + uint64(idx) + 1
			raw := buf[int64(i)*isz : int64(i+1)*isz]
			if d, ok := fs.deletedInode(ino, raw, off+int64(i)*isz, bm); ok {
				*out = append(*out, d)
			}
		}
	}
	return nil
}

// allSet reports whether bits [first, first+n) of b are all set.
func allSet(b []byte, first, n uint32) bool {
	for i := first; i < first+n; i++ {
		if b[i/8]>>(i%8)&1 == 0 {
			return false
		}
	}
	return true
}

// deletedInode classifies the free inode ino whose record raw was read at
// off; ok is false when it holds no regular file.
func (fs *FS) deletedInode(ino uint64, raw []byte, off int64, bm *blockBitmaps) (Deleted, bool) {
	if ino < uint64(fs.sb.firstIno) || isZero(raw[:0x80]) {
		return Deleted{}, false
	}
	in, err := fs.decodeInode(ino, raw, off)
	if err != nil {
		// Too damaged to say what it was: only a sound record counts.
		return Deleted{}, false
	}
	if in.fileType() != sIFREG {
		return Deleted{}, false
	}
	d := Deleted{Attr: fs.attrOf(ino, in)}
	if in.dtime != 0 {
		d.Dtime = time.Unix(int64(in.dtime), 0)
	}
	d.State, d.Note = fs.deletedState(ino, in, bm)
	return d, true
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// deletedState decides whether the blocks of the free inode ino still
// hold its content.
func (fs *FS) deletedState(ino uint64, in *inode, bm *blockBitmaps) (DeletedState, string) {
	if in.flags&inodeFlagEncrypt != 0 {
		return Damaged, "encrypted (fscrypt)"
	}
	if in.flags&inodeFlagInlineData != 0 {
		if _, err := fs.inlineData(ino, in); err != nil {
			return Damaged, err.Error()
		}
		return Recoverable, ""
	}
	runs, err := fs.blockRuns(ino, in)
	if err != nil {
		return Damaged, err.Error()
	}
	bs := uint64(fs.bs)
	need := (in.size + bs - 1) / bs
	switch {
	case in.size == 0:
		return NoData, "size 0 (the kernel truncates on delete)"
	case len(runs) == 0:
		return NoData, "block map cleared on delete"
	}
	var reused uint64
	for _, r := range runs {
		n := min(r.n, need-min(need, r.lblk))
		for b := r.pblk; b < r.pblk+n; b++ {
			used, err := bm.allocated(b)
			if err != nil {
				return Damaged, err.Error()
			}
			if used {
				reused++
			}
		}
	}
	if reused > 0 {
		return Reused, fmt.Sprintf("%d of its blocks are allocated again", reused)
	}
	return Recoverable, ""
}

// OpenDeleted opens the free inode ino for reading what its blocks still
// hold. It fails, wrapping ErrNotRecoverable, unless the inode is free, a
// regular file and Recoverable.
func (fs *FS) OpenDeleted(ino uint64) (*File, error) {
	if ino == 0 || ino > uint64(fs.sb.inodesCount) {
		return nil, fmt.Errorf("inode %d: out of range 1-%d: %w", ino, fs.sb.inodesCount, ErrNotRecoverable)
	}
	g := uint32((ino - 1) / uint64(fs.sb.inodesPerGroup))
	idx := uint32((ino - 1) % uint64(fs.sb.inodesPerGroup))
	if idx >= fs.usedInodes(g) {
		return nil, fmt.Errorf("inode %d: never used: %w", ino, ErrNotRecoverable)
	}
	gd := fs.groups[g]
	ibm, err := fs.readBlock(gd.inodeBitmap)
	if err != nil {
		return nil, fmt.Errorf("inode %d: inode bitmap: %w", ino, err)
	}
	if int(idx/8) >= len(ibm) || ibm[idx/8]>>(idx%8)&1 != 0 {
		return nil, fmt.Errorf("inode %d: in use: %w", ino, ErrNotRecoverable)
	}
	raw := make([]byte, fs.sb.inodeSize)
	off := int64(gd.inodeTable)*fs.bs + int64(idx)*int64(fs.sb.inodeSize)
	if err := fs.readAt(raw, off); err != nil {
		return nil, fmt.Errorf("inode %d: %w", ino, err)
	}
	d, ok := fs.deletedInode(ino, raw, off, fs.newBlockBitmaps())
	switch {
	case !ok:
		return nil, fmt.Errorf("inode %d: no deleted regular file: %w", ino, ErrNotRecoverable)
	case d.State != Recoverable:
		return nil, fmt.Errorf("inode %d: %s (%s): %w", ino, d.State, d.Note, ErrNotRecoverable)
	}
	in, err := fs.decodeInode(ino, raw, off)
	if err != nil {
		return nil, err
	}
	return fs.openInode(ino, in)
}

// blockBitmaps answers "is block b allocated" from the block bitmaps,
// reading each group's bitmap once.
type blockBitmaps struct {
	fs   *FS
	maps map[uint32][]byte // nil slice: the group is uninitialised (all free)
}

func (fs *FS) newBlockBitmaps() *blockBitmaps {
	return &blockBitmaps{fs: fs, maps: map[uint32][]byte{}}
}

func (m *blockBitmaps) allocated(b uint64) (bool, error) {
	sb := m.fs.sb
	if b >= sb.blocksCount || b < uint64(sb.firstDataBlock) {
		return false, corruptf("block %d outside the filesystem", b)
	}
	rel := b - uint64(sb.firstDataBlock)
	g := uint32(rel / uint64(sb.blocksPerGroup))
	bm, ok := m.maps[g]
	if !ok {
		var err error
		if bm, err = m.load(g); err != nil {
			return false, err
		}
		m.maps[g] = bm
	}
	if bm == nil {
		return false, nil
	}
	c := rel % uint64(sb.blocksPerGroup) / uint64(sb.clusterRatio())
	if c/8 >= uint64(len(bm)) {
		return false, corruptf("block %d past group %d's bitmap", b, g)
	}
	return bm[c/8]>>(c%8)&1 != 0, nil
}

func (m *blockBitmaps) load(g uint32) ([]byte, error) {
	fs := m.fs
	if int(g) >= len(fs.groups) {
		return nil, corruptf("group %d of %d", g, len(fs.groups))
	}
	if err := fs.badGroups[g]; err != nil {
		return nil, err
	}
	gd := fs.groups[g]
	csum := fs.sb.featureRoCompat&(roCompatGdtCsum|roCompatMetadataCsum) != 0
	if csum && gd.flags&bgBlockUninit != 0 {
		return nil, nil
	}
	bm, err := fs.readBlock(gd.blockBitmap)
	if err != nil {
		return nil, fmt.Errorf("group %d block bitmap: %w", g, err)
	}
	return bm, nil
}
