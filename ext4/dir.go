package ext4

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	iofs "io/fs"
	"strings"
	"unicode"
)

// dirInode loads ino and checks that its entries can be read.
func (fs *FS) dirInode(ino uint64) (*inode, error) {
	in, err := fs.inode(ino)
	if err != nil {
		return nil, err
	}
	if !in.isDir() {
		return nil, fmt.Errorf("inode %d: %w", ino, errNotDir)
	}
	if in.flags&inodeFlagEncrypt != 0 {
		return nil, encryptedErr(ino)
	}
	return in, nil
}

// ReadDir lists directory ino in on-disk order, without "." and "..".
func (fs *FS) ReadDir(ino uint64) ([]DirEntry, error) {
	in, err := fs.dirInode(ino)
	if err != nil {
		return nil, err
	}
	var out []DirEntry
	err = fs.scanDir(ino, in, func(d dirent) bool {
		out = append(out, fs.dirEntry(d))
		return false
	})
	if err != nil {
		return nil, err
	}
	kept := out[:0]
	for _, e := range out {
		if e.Mode == 0 { // no filetype feature: ask the inode
			a, err := fs.Stat(e.Ino)
			if errors.Is(err, ErrCorrupt) || errors.Is(err, iofs.ErrNotExist) {
				fs.damage.add(ino, fmt.Sprintf("directory %d: entry %q (inode %d) skipped: %v", ino, e.Name, e.Ino, err))
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("directory %d: entry %q: %w", ino, e.Name, err)
			}
			e.Mode = a.Mode & sIFMT
		}
		kept = append(kept, e)
	}
	return kept, nil
}

func (fs *FS) dirEntry(d dirent) DirEntry {
	e := DirEntry{Name: string(d.name), Ino: uint64(d.inode)}
	if fs.sb.featureIncompat&incompatFiletype != 0 && d.fileType < uint8(len(direntFileTypeMode)) {
		e.Mode = direntFileTypeMode[d.fileType]
	}
	return e
}

// scanDir calls fn for every live entry except "." and "..", stopping when
// fn returns true.
func (fs *FS) scanDir(ino uint64, in *inode, fn func(dirent) bool) error {
	if in.flags&inodeFlagInlineData != 0 {
		return fs.scanInlineDir(ino, in, fn)
	}
	f, err := fs.openInode(ino, in)
	if err != nil {
		return err
	}
	if err := f.load(); err != nil {
		return err
	}
	for _, r := range f.runs {
		for i := range r.n {
			lblk := r.lblk + i
			if int64(lblk)*fs.bs >= f.size {
				return nil
			}
			b, err := fs.dirBlock(f, lblk)
			if err != nil {
				return err
			}
			stop, err := fs.scanBlock(b, dirLoc{ino, int64(lblk)}, fn)
			if err != nil {
				return fmt.Errorf("directory %d: logical block %d: %w", ino, lblk, err)
			}
			if stop {
				return nil
			}
		}
	}
	return nil
}

// dirLoc names a directory block for damage reports: logical block lblk
// of directory dir, or its inline entries when lblk is -1.
type dirLoc struct {
	dir  uint64
	lblk int64
}

func (l dirLoc) String() string {
	if l.lblk < 0 {
		return fmt.Sprintf("directory %d: inline entries", l.dir)
	}
	return fmt.Sprintf("directory %d: logical block %d", l.dir, l.lblk)
}

// scanBlock walks the entries of one directory block. An entry whose
// structure is sound but whose name or inode number cannot be right is
// skipped and noted in fs.damage; the rest of the block still counts.
func (fs *FS) scanBlock(b []byte, at dirLoc, fn func(dirent) bool) (bool, error) {
	filetype := fs.sb.featureIncompat&incompatFiletype != 0
	end := len(b)
	if isDirentTail(b) {
		end -= direntTailSize
	}
	for off := 0; off < end; {
		d, err := parseDirent(b[:end], off, filetype)
		if err != nil {
			return false, err
		}
		off += d.recLen
		if d.inode == 0 || isDotName(d.name) {
			continue
		}
		if why := fs.badEntry(d); why != "" {
			fs.damage.add(at.dir, fmt.Sprintf("%v: entry %q at offset %d (inode %d) skipped: %s", at, d.name, off-d.recLen, d.inode, why))
			continue
		}
		if fn(d) {
			return true, nil
		}
	}
	return false, nil
}

// badEntry says why a live entry cannot be listed, or "" when it can: no
// path can carry an empty name, a "/" or a NUL, and the kernel refuses an
// inode number past s_inodes_count.
func (fs *FS) badEntry(d dirent) string {
	switch {
	case len(d.name) == 0:
		return "empty name"
	case bytes.IndexByte(d.name, '/') >= 0:
		return `name contains "/"`
	case bytes.IndexByte(d.name, 0) >= 0:
		return "name contains a NUL byte"
	case d.inode > fs.sb.inodesCount:
		return fmt.Sprintf("inode number out of range 1-%d", fs.sb.inodesCount)
	}
	return ""
}

func isDotName(n []byte) bool {
	return (len(n) == 1 && n[0] == '.') || (len(n) == 2 && n[0] == '.' && n[1] == '.')
}

// dirBlock reads logical block lblk of a directory and verifies its
// checksum as a leaf or an htree node.
func (fs *FS) dirBlock(f *File, lblk uint64) ([]byte, error) {
	pblk, ok := f.mapBlock(lblk)
	if !ok {
		return nil, fmt.Errorf("directory %d: %w", f.ino, corruptf("logical block %d is a hole", lblk))
	}
	b, err := fs.readBlock(pblk)
	if err != nil {
		return nil, fmt.Errorf("directory %d: %w", f.ino, err)
	}
	if !fs.sb.hasMetadataCsum() || fs.opts.IgnoreChecksums {
		return b, nil
	}
	seed := fs.inodeSeed(f.ino, f.in.generation)
	le := binary.LittleEndian
	if isDirentTail(b) {
		want := le.Uint32(b[len(b)-4:])
		if got := crc32c(seed, b[:len(b)-direntTailSize]); got != want {
			return nil, fmt.Errorf("directory %d: %w", f.ino, corruptf("block %d (logical %d): leaf checksum %#08x, computed %#08x", pblk, lblk, want, got))
		}
		return b, nil
	}
	if f.in.flags&inodeFlagIndex != 0 {
		if off, ok := dxCountOffset(b, lblk); ok {
			if err := dxCsumVerify(b, off, seed); err != nil {
				return nil, fmt.Errorf("directory %d: block %d (logical %d): %w", f.ino, pblk, lblk, err)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("directory %d: %w", f.ino, corruptf("block %d (logical %d): no checksum tail", pblk, lblk))
}

// mapBlock returns the physical block of logical block lblk.
func (f *File) mapBlock(lblk uint64) (uint64, bool) {
	lo, hi := 0, len(f.runs)
	for lo < hi {
		m := (lo + hi) / 2
		r := f.runs[m]
		switch {
		case lblk < r.lblk:
			hi = m
		case lblk >= r.lblk+r.n:
			lo = m + 1
		default:
			return r.pblk + lblk - r.lblk, !r.unwritten
		}
	}
	return 0, false
}

// dxCountOffset recognizes an htree root (logical block 0) or interior
// node and returns the offset of its dx_countlimit.
func dxCountOffset(b []byte, lblk uint64) (int, bool) {
	le := binary.LittleEndian
	if len(b) < dxRootEntriesOffset+dxEntrySize {
		return 0, false
	}
	if lblk == 0 {
		// "." then ".." whose rec_len runs to the end of the block.
		if le.Uint16(b[4:]) != 12 || int(le.Uint16(b[12+4:])) != len(b)-12 {
			return 0, false
		}
		return dxRootInfoOffset + int(b[dxRootInfoOffset+5]), true
	}
	rl := int(le.Uint16(b[4:]))
	if len(b) >= 65536 && (rl == 65535 || rl == 0) {
		rl = 65536
	}
	if le.Uint32(b) == 0 && rl == len(b) && b[6] == 0 {
		return dxNodeEntriesOffset, true
	}
	return 0, false
}

// dxCsumVerify checks the dx_tail checksum (ext4_dx_csum) of an htree node
// whose dx_countlimit is at off.
func dxCsumVerify(b []byte, off int, seed uint32) error {
	le := binary.LittleEndian
	if off+4 > len(b) {
		return corruptf("htree node: count at %d overruns block", off)
	}
	limit, count := int(le.Uint16(b[off:])), int(le.Uint16(b[off+2:]))
	tail := off + limit*dxEntrySize
	if count > limit || tail+dxTailSize > len(b) {
		return corruptf("htree node: count %d limit %d leave no room for the checksum", count, limit)
	}
	c := crc32c(seed, b[:off+count*dxEntrySize])
	c = crc32c(c, b[tail:tail+4])
	c = crc32c(c, []byte{0, 0, 0, 0})
	if want := le.Uint32(b[tail+4:]); c != want {
		return corruptf("htree node checksum %#08x, computed %#08x", want, c)
	}
	return nil
}

// scanInlineDir walks an inline_data directory: the parent inode number in
// i_block[0:4], entries in the rest of i_block and in system.data.
func (fs *FS) scanInlineDir(ino uint64, in *inode, fn func(dirent) bool) error {
	v, err := fs.getXattrRaw(ino, in, xattrIndexSystem, xattrInlineDataName)
	if err != nil && !isNotExist(err) {
		return fmt.Errorf("directory %d: inline data: %w", ino, err)
	}
	for _, part := range [][]byte{in.block[4:], v} {
		if len(part) == 0 {
			continue
		}
		stop, err := fs.scanBlock(part, dirLoc{ino, -1}, fn)
		if err != nil {
			return fmt.Errorf("directory %d: inline entries: %w", ino, err)
		}
		if stop {
			return nil
		}
	}
	return nil
}

// Lookup finds name in directory dir. Hashed directories are searched
// through their htree; a missing name gives an error wrapping
// io/fs.ErrNotExist.
func (fs *FS) Lookup(dir uint64, name string) (DirEntry, error) {
	in, err := fs.dirInode(dir)
	if err != nil {
		return DirEntry{}, err
	}
	if name == "" || len(name) > 255 || strings.IndexByte(name, '/') >= 0 {
		return DirEntry{}, fmt.Errorf("directory %d: lookup %q: %w", dir, name, iofs.ErrNotExist)
	}
	fold := fs.sb.featureIncompat&incompatCasefold != 0 && in.flags&inodeFlagCasefold != 0
	match := func(d dirent) bool { return string(d.name) == name }
	if fold {
		key := casefold(name)
		match = func(d dirent) bool { return casefold(string(d.name)) == key }
	}
	var found *dirent
	if in.flags&inodeFlagIndex != 0 && fs.sb.featureCompat&compatDirIndex != 0 && in.flags&inodeFlagInlineData == 0 {
		found, err = fs.dxLookup(dir, in, name, fold, match)
		if err != nil {
			return DirEntry{}, err
		}
	}
	if found == nil && (fold || in.flags&inodeFlagIndex == 0 || fs.sb.featureCompat&compatDirIndex == 0 || in.flags&inodeFlagInlineData != 0) {
		// Linear scan: unindexed directories, and casefold directories
		// where our folding may differ from the kernel's (see casefold).
		err = fs.scanDir(dir, in, func(d dirent) bool {
			if match(d) {
				found = &d
				return true
			}
			return false
		})
		if err != nil {
			return DirEntry{}, err
		}
	}
	if found == nil {
		return DirEntry{}, fmt.Errorf("directory %d: lookup %q: %w", dir, name, iofs.ErrNotExist)
	}
	e := fs.dirEntry(*found)
	if e.Mode == 0 {
		a, err := fs.Stat(e.Ino)
		if err != nil {
			return DirEntry{}, fmt.Errorf("directory %d: entry %q: %w", dir, name, err)
		}
		e.Mode = a.Mode & sIFMT
	}
	return e, nil
}

// casefold folds a name for comparison in a casefold directory. Linux
// applies NFD normalization and full Unicode case folding (utf8-12.1);
// this uses simple per-rune folding without normalization, which agrees
// for ASCII and for most precomposed text.
func casefold(s string) string {
	return strings.Map(func(r rune) rune {
		// The smallest rune of a SimpleFold orbit is usually the upper
		// case; fold to lower case the way CaseFolding.txt does.
		return unicode.ToLower(unicode.ToUpper(r))
	}, s)
}
