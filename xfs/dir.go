package xfs

import (
	"encoding/binary"
	"fmt"
	iofs "io/fs"
	"strings"
)

// dirIndex is a directory's listing with a name index, cached for Lookup.
type dirIndex struct {
	entries []DirEntry
	byName  map[string]int
	bad     map[string]error // entries left out because their inode is damaged
}

// maxDirEntries bounds a directory's listing (a corrupt one could
// otherwise claim any number).
const maxDirEntries = 1 << 24

// ftypeMode maps XFS_DIR3_FT_* to S_IFMT bits.
var ftypeMode = [...]uint32{0, sIFREG, sIFDIR, sIFCHR, sIFBLK, sIFIFO, sIFSOCK, sIFLNK}

func (fs *FS) dirInode(ino uint64) (*inode, error) {
	in, err := fs.inode(ino)
	if err != nil {
		return nil, err
	}
	if !in.isDir() {
		return nil, fmt.Errorf("inode %d: not a directory", ino)
	}
	return in, nil
}

// ReadDir lists directory ino in on-disk order, without "." and "..".
func (fs *FS) ReadDir(ino uint64) ([]DirEntry, error) {
	d, err := fs.dir(ino)
	if err != nil {
		return nil, err
	}
	return append([]DirEntry(nil), d.entries...), nil
}

// Lookup finds name in directory dir; a missing name gives an error
// wrapping io/fs.ErrNotExist.
func (fs *FS) Lookup(dir uint64, name string) (DirEntry, error) {
	if e, ok, err := fs.indexedLookup(dir, name); ok {
		return e, err
	}
	d, err := fs.dir(dir)
	if err != nil {
		return DirEntry{}, err
	}
	i, ok := d.byName[name]
	if err := d.bad[name]; !ok && err != nil {
		return DirEntry{}, err
	}
	if !ok {
		return DirEntry{}, fmt.Errorf("directory %d: lookup %q: %w", dir, name, iofs.ErrNotExist)
	}
	return d.entries[i], nil
}

// indexedLookup looks name up through the hash index of a directory in
// block form or larger that is not listed in the cache. ok is false when
// the listing should decide: a short-form directory, a volume that
// hashes names case-insensitively, or a damaged index (the listing reads
// past damage).
func (fs *FS) indexedLookup(dir uint64, name string) (DirEntry, bool, error) {
	if _, ok := fs.dirs.get(dir); ok || fs.sb.versionNum&versionBorgBit != 0 {
		return DirEntry{}, false, nil
	}
	in, err := fs.dirInode(dir)
	if err != nil {
		return DirEntry{}, true, err
	}
	if in.format != fmtExtents && in.format != fmtBtree {
		return DirEntry{}, false, nil
	}
	e, found, err := fs.hashLookup(in, name)
	switch {
	case err != nil:
		return DirEntry{}, false, nil
	case !found:
		return DirEntry{}, true, fmt.Errorf("directory %d: lookup %q: %w", dir, name, iofs.ErrNotExist)
	case e.Mode == 0: // no ftype: the inode says
		a, err := fs.Stat(e.Ino)
		if err != nil {
			return DirEntry{}, true, fmt.Errorf("directory %d: entry %q: %w", dir, name, err)
		}
		e.Mode = a.Mode & sIFMT
	}
	return e, true, nil
}

func (fs *FS) dir(ino uint64) (*dirIndex, error) {
	if d, ok := fs.dirs.get(ino); ok {
		return d, nil
	}
	in, err := fs.dirInode(ino)
	if err != nil {
		return nil, err
	}
	var es []DirEntry
	switch in.format {
	case fmtLocal:
		es, err = fs.shortformDir(in)
	case fmtExtents, fmtBtree:
		es, err = fs.blockDir(in)
	default:
		err = corruptf("directory %d: data fork format %d", ino, in.format)
	}
	if err != nil {
		return nil, err
	}
	d := &dirIndex{byName: make(map[string]int, len(es))}
	for _, e := range es {
		if e.Mode == 0 { // no ftype: the inode says
			a, err := fs.Stat(e.Ino)
			if err != nil {
				err = fmt.Errorf("directory %d: entry %q: %w", ino, e.Name, err)
				if d.bad == nil {
					d.bad = map[string]error{}
				}
				d.bad[e.Name] = err
				fs.damage.add(ino, err)
				continue
			}
			e.Mode = a.Mode & sIFMT
		}
		d.byName[e.Name] = len(d.entries)
		d.entries = append(d.entries, e)
	}
	fs.dirs.add(ino, d)
	return d, nil
}

// entry builds a DirEntry after checking the name and inode number.
func (fs *FS) entry(dir uint64, name []byte, ino uint64, ftype uint8, where string) (DirEntry, error) {
	if len(name) == 0 || strings.ContainsAny(string(name), "/\x00") {
		return DirEntry{}, corruptf("directory %d %s: bad name %q", dir, where, name)
	}
	if _, err := fs.inodeOffset(ino); err != nil {
		return DirEntry{}, fmt.Errorf("directory %d %s: entry %q: %w", dir, where, name, err)
	}
	e := DirEntry{Name: string(name), Ino: ino}
	if fs.sb.hasFType() && int(ftype) < len(ftypeMode) {
		e.Mode = ftypeMode[ftype]
	}
	return e, nil
}

// shortformDir decodes xfs_dir2_sf_hdr and its entries, which live in the
// data fork: count, i8count, parent (4 or 8 bytes), then per entry
// namelen, a 2-byte offset, the name, [ftype], and a 4- or 8-byte inode.
func (fs *FS) shortformDir(in *inode) ([]DirEntry, error) {
	b := in.dataFork
	if in.size > uint64(len(b)) || in.size < 6 {
		return nil, corruptf("directory %d: short form of %d bytes in a %d-byte fork", in.ino, in.size, len(b))
	}
	b = b[:in.size]
	count, i8 := int(b[0]), b[1]
	inoLen, off := 4, 6
	if i8 != 0 {
		inoLen, off, count = 8, 10, int(i8)
	}
	ft := 0
	if fs.sb.hasFType() {
		ft = 1
	}
	out := make([]DirEntry, 0, count)
	for i := 0; i < count; i++ {
		if off >= len(b) {
			return nil, corruptf("directory %d: short form entry %d at %d past %d bytes", in.ino, i, off, len(b))
		}
		nl := int(b[off])
		end := off + 3 + nl + ft + inoLen
		if end > len(b) {
			return nil, corruptf("directory %d: short form entry %d overruns the fork", in.ino, i)
		}
		name := b[off+3 : off+3+nl]
		var ftype uint8
		if ft == 1 {
			ftype = b[off+3+nl]
		}
		var ino uint64
		if p := b[off+3+nl+ft:]; inoLen == 8 {
			ino = binary.BigEndian.Uint64(p)
		} else {
			ino = uint64(binary.BigEndian.Uint32(p))
		}
		off = end
		e, err := fs.entry(in.ino, name, ino, ftype, fmt.Sprintf("short form entry %d", i))
		if err != nil {
			fs.damage.add(in.ino, err)
			continue
		}
		out = append(out, e)
	}
	return out, nil
}
