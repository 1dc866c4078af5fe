package ext4

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"sync"
)

// run maps n logical blocks starting at lblk to physical blocks from pblk.
type run struct {
	lblk, pblk, n uint64
	unwritten     bool // allocated but never written: reads as zeros
}

// Extent maps a run of a file's bytes to bytes of the volume.
type Extent struct {
	Logical   int64 // offset in the file
	Physical  int64 // offset in the volume
	Length    int64 // bytes, clipped at the end of the file
	Unwritten bool  // preallocated (uninit) extent: reads as zeros
}

// File is an open regular file (or the raw content of any inode). ReadAt
// is safe for concurrent use; the block map is loaded once, lazily.
type File struct {
	fs     *FS
	ino    uint64
	in     *inode
	size   int64
	inline []byte // content of an inline_data inode, nil otherwise

	once sync.Once
	runs []run // sorted by lblk, set by once
	err  error // set by once
}

// Open opens inode ino for reading its content.
func (fs *FS) Open(ino uint64) (*File, error) {
	in, err := fs.inode(ino)
	if err != nil {
		return nil, err
	}
	if in.flags&inodeFlagEncrypt != 0 {
		return nil, encryptedErr(ino)
	}
	return fs.openInode(ino, in)
}

func (fs *FS) openInode(ino uint64, in *inode) (*File, error) {
	f := &File{fs: fs, ino: ino, in: in, size: int64(in.size)}
	if f.size < 0 {
		return nil, fmt.Errorf("inode %d: %w", ino, corruptf("size %d", in.size))
	}
	if in.flags&inodeFlagInlineData != 0 {
		data, err := fs.inlineData(ino, in)
		if err != nil {
			return nil, err
		}
		// Bytes past the inline data read as zeros, as on Linux.
		f.inline = data[:min(int64(len(data)), f.size)]
	}
	return f, nil
}

// inlineData returns i_block followed by the system.data xattr value.
func (fs *FS) inlineData(ino uint64, in *inode) ([]byte, error) {
	data := append([]byte(nil), in.block[:]...)
	v, err := fs.getXattrRaw(ino, in, xattrIndexSystem, xattrInlineDataName)
	if err != nil && !isNotExist(err) {
		return nil, fmt.Errorf("inode %d: inline data: %w", ino, err)
	}
	return append(data, v...), nil
}

// Size is the file size in bytes.
func (f *File) Size() int64 { return f.size }

// Ino is the inode number.
func (f *File) Ino() uint64 { return f.ino }

func (f *File) load() error {
	f.once.Do(func() {
		if f.inline != nil {
			return
		}
		f.runs, f.err = f.fs.blockRuns(f.ino, f.in)
	})
	return f.err
}

// ReadAt reads len(p) bytes at off. Holes and unwritten extents read as
// zeros; at the end of the file it returns io.EOF.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("inode %d: negative offset %d", f.ino, off)
	}
	if off >= f.size {
		return 0, io.EOF
	}
	n := len(p)
	var eof error
	if int64(n) > f.size-off {
		n, eof = int(f.size-off), io.EOF
	}
	if f.inline != nil {
		c := 0
		if off < int64(len(f.inline)) {
			c = copy(p[:n], f.inline[off:])
		}
		clear(p[c:n])
		return n, eof
	}
	if err := f.load(); err != nil {
		return 0, err
	}
	if err := f.readRuns(p[:n], off); err != nil {
		return 0, err
	}
	return n, eof
}

// readRuns fills p with the file bytes at off, zeroing gaps.
func (f *File) readRuns(p []byte, off int64) error {
	bs := f.fs.bs
	end := off + int64(len(p))
	i := sort.Search(len(f.runs), func(i int) bool {
		r := f.runs[i]
		return int64(r.lblk+r.n)*bs > off
	})
	pos := off
	for ; i < len(f.runs) && pos < end; i++ {
		r := f.runs[i]
		rs, re := int64(r.lblk)*bs, int64(r.lblk+r.n)*bs
		if rs >= end {
			break
		}
		if rs > pos {
			clear(p[pos-off : rs-off])
			pos = rs
		}
		e := min(re, end)
		if r.unwritten {
			clear(p[pos-off : e-off])
		} else {
			phys := int64(r.pblk)*bs + (pos - rs)
			if err := f.fs.readAt(p[pos-off:e-off], phys); err != nil {
				return fmt.Errorf("inode %d: data at file offset %d: %w", f.ino, pos, err)
			}
		}
		pos = e
	}
	if pos < end {
		clear(p[pos-off:])
	}
	return nil
}

// Extents lists where the file's bytes live in the volume, in file order.
// Holes are omitted; inline data, fast symlinks and device nodes, fifos
// and sockets have no extents: i_block holds a target or device numbers,
// not block pointers.
func (f *File) Extents() ([]Extent, error) {
	switch t := f.in.fileType(); {
	case f.inline != nil:
		return nil, nil
	case t == sIFLNK && f.fs.isFastSymlink(f.in), t != sIFREG && t != sIFDIR && t != sIFLNK:
		return nil, nil
	}
	if err := f.load(); err != nil {
		return nil, err
	}
	bs := f.fs.bs
	var out []Extent
	for _, r := range f.runs {
		lo := int64(r.lblk) * bs
		if lo >= f.size {
			break
		}
		n := min(int64(r.n)*bs, f.size-lo)
		out = append(out, Extent{Logical: lo, Physical: int64(r.pblk) * bs, Length: n, Unwritten: r.unwritten})
	}
	return out, nil
}

// Extents is File.Extents for inode ino.
func (fs *FS) Extents(ino uint64) ([]Extent, error) {
	f, err := fs.Open(ino)
	if err != nil {
		return nil, err
	}
	return f.Extents()
}

// blockRuns maps all blocks of an inode, from its extent tree or its
// ext2/3 indirect block map.
func (fs *FS) blockRuns(ino uint64, in *inode) ([]run, error) {
	var (
		runs []run
		err  error
	)
	if in.flags&inodeFlagExtents != 0 {
		w := extentWalker{fs: fs, ino: ino, seed: fs.inodeSeed(ino, in.generation), seen: map[uint64]bool{}}
		err = w.walk(in.block[:], -1, 0, 1<<32, &runs)
	} else {
		m := blockMapper{fs: fs, ino: ino, seen: map[uint64]bool{}}
		m.limit = (in.size + uint64(fs.bs) - 1) / uint64(fs.bs)
		err = m.walk(in.block[:], &runs)
	}
	if err != nil {
		return nil, fmt.Errorf("inode %d: %w", ino, err)
	}
	return runs, nil
}

// appendRun adds a run, merging it with the previous one when contiguous.
func appendRun(runs *[]run, r run) {
	if n := len(*runs); n > 0 {
		last := &(*runs)[n-1]
		if last.lblk+last.n == r.lblk && last.pblk+last.n == r.pblk && last.unwritten == r.unwritten {
			last.n += r.n
			return
		}
	}
	*runs = append(*runs, r)
}

// extentWalker reads an extent tree depth-first, checking every node.
type extentWalker struct {
	fs   *FS
	ino  uint64
	seed uint32
	seen map[uint64]bool // tree blocks already visited (loop detection)
}

// walk decodes node (the inode's i_block or a tree block). want is the
// depth the parent promised (-1 at the root); entries must lie in [lo, hi).
func (w *extentWalker) walk(node []byte, want int, lo, hi uint64, runs *[]run) error {
	h, err := parseExtentHeader(node)
	if err != nil {
		return err
	}
	if want >= 0 && int(h.depth) != want {
		return corruptf("extent node depth %d, parent expects %d", h.depth, want)
	}
	if h.depth == 0 {
		return w.leaves(node, h, lo, hi, runs)
	}
	for i := range int(h.entries) {
		idx := parseExtentIdx(node, i)
		end := hi
		if i+1 < int(h.entries) {
			end = uint64(parseExtentIdx(node, i+1).block)
		}
		if uint64(idx.block) < lo || uint64(idx.block) > end || end > hi {
			return corruptf("extent index %d: logical block %d outside [%d,%d)", i, idx.block, lo, end)
		}
		child, err := w.node(idx.leaf)
		if err != nil {
			return err
		}
		if err := w.walk(child, int(h.depth)-1, uint64(idx.block), end, runs); err != nil {
			return fmt.Errorf("extent block %d: %w", idx.leaf, err)
		}
	}
	return nil
}

func (w *extentWalker) leaves(node []byte, h extentHeader, lo, hi uint64, runs *[]run) error {
	blocks := w.fs.sb.blocksCount
	for i := range int(h.entries) {
		x := parseExtentLeaf(node, i)
		s, e := uint64(x.block), uint64(x.block)+uint64(x.len)
		if x.len == 0 || s < lo || e > hi {
			return corruptf("extent %d: logical blocks [%d,%d) outside [%d,%d)", i, s, e, lo, hi)
		}
		if x.start+uint64(x.len) > blocks || x.start < uint64(w.fs.sb.firstDataBlock) {
			return corruptf("extent %d: physical blocks %d+%d outside the filesystem", i, x.start, x.len)
		}
		if n := len(*runs); n > 0 && (*runs)[n-1].lblk+(*runs)[n-1].n > s {
			return corruptf("extent %d: logical block %d overlaps the previous extent", i, s)
		}
		appendRun(runs, run{lblk: s, pblk: x.start, n: uint64(x.len), unwritten: x.unwriten})
		lo = e
	}
	return nil
}

// node reads and verifies one extent tree block.
func (w *extentWalker) node(blk uint64) ([]byte, error) {
	if w.seen[blk] {
		return nil, corruptf("extent block %d referenced twice (loop)", blk)
	}
	w.seen[blk] = true
	b, err := w.fs.readBlock(blk)
	if err != nil {
		return nil, fmt.Errorf("extent block %d: %w", blk, err)
	}
	h, err := parseExtentHeader(b)
	if err != nil {
		return nil, fmt.Errorf("extent block %d: %w", blk, err)
	}
	if w.fs.sb.hasMetadataCsum() && !w.fs.opts.IgnoreChecksums {
		t := extentTailOffset(h)
		if t+4 > len(b) {
			return nil, corruptf("extent block %d: no room for checksum", blk)
		}
		want := binary.LittleEndian.Uint32(b[t:])
		if got := crc32c(w.seed, b[:t]); got != want {
			return nil, corruptf("extent block %d: checksum %#08x, computed %#08x", blk, want, got)
		}
	}
	return b, nil
}

// blockMapper reads an ext2/3 block map (12 direct pointers, then single,
// double and triple indirect blocks).
type blockMapper struct {
	fs    *FS
	ino   uint64
	limit uint64          // logical blocks in the file (from i_size)
	seen  map[uint64]bool // indirect blocks visited
}

func (m *blockMapper) walk(iblock []byte, runs *[]run) error {
	le := binary.LittleEndian
	for i := range 12 {
		if err := m.add(uint64(i), uint64(le.Uint32(iblock[4*i:])), runs); err != nil {
			return err
		}
	}
	per := uint64(m.fs.bs / 4)
	base, span := uint64(12), uint64(1)
	for level := 1; level <= 3; level++ {
		span *= per
		if p := uint64(le.Uint32(iblock[4*(11+level):])); p != 0 && base < m.limit {
			if err := m.indirect(level, p, base, runs); err != nil {
				return err
			}
		}
		base += span
	}
	return nil
}

func (m *blockMapper) add(lblk, pblk uint64, runs *[]run) error {
	if pblk == 0 || lblk >= m.limit {
		return nil
	}
	if pblk >= m.fs.sb.blocksCount {
		return corruptf("block map: logical block %d -> block %d beyond the filesystem", lblk, pblk)
	}
	appendRun(runs, run{lblk: lblk, pblk: pblk, n: 1})
	return nil
}

// indirect walks an indirect block of the given level (1 single, 2 double,
// 3 triple) whose first logical block is base.
func (m *blockMapper) indirect(level int, blk, base uint64, runs *[]run) error {
	if m.seen[blk] {
		return corruptf("block map: indirect block %d referenced twice", blk)
	}
	m.seen[blk] = true
	b, err := m.fs.readBlock(blk)
	if err != nil {
		return fmt.Errorf("indirect block %d: %w", blk, err)
	}
	per := uint64(m.fs.bs / 4)
	span := uint64(1)
	for range level - 1 {
		span *= per
	}
	for i := range per {
		l := base + i*span
		if l >= m.limit {
			break
		}
		p := uint64(binary.LittleEndian.Uint32(b[4*i:]))
		if level == 1 {
			err = m.add(l, p, runs)
		} else if p != 0 {
			err = m.indirect(level-1, p, l, runs)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
