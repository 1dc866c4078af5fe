package xfs

import (
	"encoding/binary"
	"fmt"
)

// Directory data blocks (xfs_dir2_data_hdr / xfs_dir3_data_hdr) and the
// single-block form (xfs_dir2_block_tail at the end). Entries are
// xfs_dir2_data_entry: inumber (8), namelen, name, [ftype], padding to 8
// bytes, a 2-byte tag; free space is xfs_dir2_data_unused (0xFFFF, length).
const (
	dir2BlockMagic = 0x58443242 // "XD2B"
	dir2DataMagic  = 0x58443244 // "XD2D"
	dir3BlockMagic = 0x58444233 // "XDB3"
	dir3DataMagic  = 0x58444433 // "XDD3"
	dir2HdrSize    = 16
	dir3HdrSize    = 64
	dir3CRCOff     = 4
	dir3OwnerOff   = 40
	dirFreeTag     = 0xFFFF
	dirMinEntry    = 16 // the smallest live entry (free space can be 8)
)

// blockDir lists the entries of every data block below the leaf offset;
// that covers block, leaf, node and B+tree directories alike.
func (fs *FS) blockDir(in *inode) ([]DirEntry, error) {
	runs, err := fs.forkRuns(in, in.dataFork, in.format, in.nextents, "data")
	if err != nil {
		return nil, fmt.Errorf("directory %d: %w", in.ino, err)
	}
	per := uint64(1) << fs.sb.dirBlkLog // fs blocks per directory block
	limit := uint64(leafOffset) >> fs.sb.blockLog
	var out []DirEntry
	next := uint64(0)
	for _, r := range runs {
		for b := max(r.lblk&^(per-1), next); b < r.lblk+r.count && b < limit; b += per {
			next = b + per
			blk, err := fs.readFork(runs, b, per, fmt.Sprintf("directory %d", in.ino))
			if err == nil {
				out, err = fs.dataBlockEntries(in.ino, b, blk, out)
			}
			if err != nil {
				// The block's entries (from the damage on) are left
				// out; the other blocks still read.
				fs.damage.add(in.ino, err)
				continue
			}
			if len(out) > maxDirEntries {
				return nil, corruptf("directory %d: more than %d entries", in.ino, maxDirEntries)
			}
		}
	}
	return out, nil
}

// dataBlockEntries appends the live entries of directory block b (at
// logical fs block lblk) to out, skipping "." and ".." and entries with a
// bad name or inode number (noted as damage). On an error it returns the
// entries found before it.
func (fs *FS) dataBlockEntries(dir, lblk uint64, b []byte, out []DirEntry) ([]DirEntry, error) {
	be := binary.BigEndian
	where := fmt.Sprintf("block %d", lblk)
	start, end, err := fs.dataBlockBounds(dir, lblk, b)
	if err != nil {
		return out, err
	}
	ft := 0
	if fs.sb.hasFType() {
		ft = 1
	}
	for off := start; off < end; {
		if off+8 > end {
			return out, corruptf("directory %d %s: entry at %d overruns the data area", dir, where, off)
		}
		if be.Uint16(b[off:]) == dirFreeTag {
			n := int(be.Uint16(b[off+2:]))
			if n < 8 || n%8 != 0 || off+n > end {
				return out, corruptf("directory %d %s: free space at %d of %d bytes", dir, where, off, n)
			}
			off += n
			continue
		}
		if off+dirMinEntry > end {
			return out, corruptf("directory %d %s: entry at %d overruns the data area", dir, where, off)
		}
		nl := int(b[off+8])
		size := (8 + 1 + nl + ft + 2 + 7) &^ 7
		if nl == 0 || off+size > end {
			return out, corruptf("directory %d %s: entry at %d (name of %d bytes) overruns the data area", dir, where, off, nl)
		}
		name := b[off+9 : off+9+nl]
		if !(nl == 1 && name[0] == '.') && !(nl == 2 && name[0] == '.' && name[1] == '.') {
			var ftype uint8
			if ft == 1 {
				ftype = b[off+9+nl]
			}
			e, err := fs.entry(dir, name, be.Uint64(b[off:]), ftype, fmt.Sprintf("%s offset %d", where, off))
			if err != nil {
				fs.damage.add(dir, err)
			} else {
				out = append(out, e)
			}
		}
		off += size
	}
	return out, nil
}

// dataBlockBounds checks a directory data block's header and returns
// where its entries start and end.
func (fs *FS) dataBlockBounds(dir, lblk uint64, b []byte) (int, int, error) {
	be := binary.BigEndian
	if len(b) < dir3HdrSize+8 {
		return 0, 0, corruptf("directory %d block %d: %d bytes", dir, lblk, len(b))
	}
	m := be.Uint32(b)
	hdr, block := dir2HdrSize, false
	switch {
	case !fs.sb.v5() && m == dir2BlockMagic:
		block = true
	case !fs.sb.v5() && m == dir2DataMagic:
	case fs.sb.v5() && (m == dir3BlockMagic || m == dir3DataMagic):
		hdr, block = dir3HdrSize, m == dir3BlockMagic
		what := fmt.Sprintf("directory %d block %d", dir, lblk)
		if err := fs.checkMeta(b, dir3CRCOff, what); err != nil {
			return 0, 0, err
		}
		if o := be.Uint64(b[dir3OwnerOff:]); o != dir {
			return 0, 0, corruptf("%s: owner %d", what, o)
		}
	default:
		return 0, 0, corruptf("directory %d block %d: magic %#08x is not a data block", dir, lblk, m)
	}
	end := len(b)
	if block {
		count := int64(be.Uint32(b[len(b)-8:]))
		end = len(b) - 8 - int(min(count, int64(len(b))))*8
		if end < hdr {
			return 0, 0, corruptf("directory %d block %d: %d leaf entries do not fit", dir, lblk, count)
		}
	}
	return hdr, end, nil
}
