package fat

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"math"
	"time"
)

// Options are the mount options a Linux vfat mount would take.
// The zero Options clears no permission bits; use DefaultOptions (or pass
// nil to Open) for Linux's defaults under umask 022.
type Options struct {
	Uid, Gid uint32
	Fmask    uint32 // permission bits cleared from files (Linux fmask=)
	Dmask    uint32 // permission bits cleared from directories (Linux dmask=)
	ShowExec bool   // only .EXE, .COM and .BAT files get execute bits (Linux showexec)
	// Location is the zone the on-disk local times are in (Linux tz=);
	// nil means UTC.
	Location *time.Location
}

// DefaultOptions are what Open uses for nil Options: uid 0, gid 0, masks
// 022 (files and directories 0755), times in UTC.
func DefaultOptions() Options {
	return Options{Fmask: 0o022, Dmask: 0o022, Location: time.UTC}
}

// RootIno is the inode number of the root directory.
const RootIno = 1

// FS is an open FAT volume. It is safe for concurrent use.
type FS struct {
	r    io.ReaderAt
	size int64
	opts Options
	boot *bootSector
	l    *layout
	fat  *fatTable
	info VolumeInfo
	dirs *dirCache
}

// Open reads the boot sector of the FAT volume in the first size bytes of
// r. opts may be nil.
func Open(r io.ReaderAt, size int64, opts *Options) (*FS, error) {
	o := DefaultOptions()
	if opts != nil {
		o = *opts
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	buf := make([]byte, bootSectorSize)
	if size < bootSectorSize {
		return nil, fmt.Errorf("fat: volume of %d bytes is smaller than a boot sector: %w", size, ErrCorrupt)
	}
	if _, err := r.ReadAt(buf, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("fat: read boot sector: %w", err)
	}
	boot, err := parseBootSector(buf)
	if err != nil {
		return nil, fmt.Errorf("fat: %w", err)
	}
	l, err := newLayout(boot)
	if err != nil {
		return nil, fmt.Errorf("fat: %w", err)
	}
	fs := &FS{r: r, size: size, opts: o, boot: boot, l: l, dirs: newDirCache()}
	fs.fat = newFATTable(r, size, l)
	fs.info = fs.readInfo()
	return fs, nil
}

// Root returns the inode number of the root directory.
func (fs *FS) Root() uint64 { return RootIno }

// entryAt reads the 8.3 entry an inode number points at and checks that it
// names a live file or directory.
func (fs *FS) entryAt(ino uint64) (shortEntry, error) {
	if ino > math.MaxInt64/dirEntrySize {
		return shortEntry{}, fmt.Errorf("fat: inode %d: %w", ino, iofs.ErrNotExist)
	}
	off := int64(ino) * dirEntrySize
	inRoot := off >= fs.l.rootOffset && off < fs.l.rootOffset+fs.l.rootSize
	inData := off >= fs.l.dataOffset && off < fs.l.dataEnd()
	if !inRoot && !inData {
		return shortEntry{}, fmt.Errorf("fat: inode %d: offset %d is not in a directory area: %w", ino, off, iofs.ErrNotExist)
	}
	if off+dirEntrySize > fs.size {
		return shortEntry{}, fmt.Errorf("fat: inode %d: entry at offset %d is beyond the end of the image (%d bytes): %w", ino, off, fs.size, ErrCorrupt)
	}
	var buf [dirEntrySize]byte
	if _, err := fs.r.ReadAt(buf[:], off); err != nil && err != io.EOF {
		return shortEntry{}, fmt.Errorf("fat: inode %d: read entry at offset %d: %w", ino, off, err)
	}
	e := parseShortEntry(buf[:])
	if !e.isLive() || e.isDot() {
		return shortEntry{}, fmt.Errorf("fat: inode %d: no live directory entry at offset %d: %w", ino, off, iofs.ErrNotExist)
	}
	return e, nil
}

// Stat returns the attributes of an inode.
func (fs *FS) Stat(ino uint64) (Attr, error) {
	if ino == RootIno {
		return fs.rootAttr()
	}
	e, err := fs.entryAt(ino)
	if err != nil {
		return Attr{}, err
	}
	a := Attr{
		Ino:     ino,
		Mode:    fs.mode(&e),
		Nlink:   1,
		Uid:     fs.opts.Uid,
		Gid:     fs.opts.Gid,
		Size:    int64(e.FileSize),
		Mtime:   dosTime(e.WrtDate, e.WrtTime, 0, fs.opts.Location),
		Atime:   dosTime(e.AccDate, 0, 0, fs.opts.Location),
		DOSAttr: e.Attr,
	}
	a.Ctime = a.Mtime
	if e.CrtDate != 0 {
		a.Crtime = dosTime(e.CrtDate, e.CrtTime, e.CrtTimeCs, fs.opts.Location)
	}
	if e.isDir() {
		d, err := fs.dir(ino, e.cluster(fs.l.fatBits == 32))
		if err != nil {
			return Attr{}, err
		}
		a.Size, a.Nlink = d.size, uint32(d.subdirs+2)
	}
	a.Blocks = fs.blocks(a.Size)
	return a, nil
}

func (fs *FS) rootAttr() (Attr, error) {
	d, err := fs.rootDir()
	if err != nil {
		return Attr{}, err
	}
	epoch := time.Unix(0, 0).In(fs.opts.Location)
	return Attr{
		Ino:     RootIno,
		Mode:    modeDir | 0o777&^fs.opts.Dmask,
		Nlink:   uint32(d.subdirs + 2),
		Uid:     fs.opts.Uid,
		Gid:     fs.opts.Gid,
		Size:    d.size,
		Blocks:  fs.blocks(d.size),
		Atime:   epoch,
		Mtime:   epoch,
		Ctime:   epoch,
		DOSAttr: attrDirectory,
	}, nil
}

// DirEntry is one name in a directory.
type DirEntry struct {
	Name string
	Ino  uint64
	Mode uint32 // st_mode as Stat reports it
}

// ReadDir lists a directory in on-disk order, without "." and "..".
func (fs *FS) ReadDir(dir uint64) ([]DirEntry, error) {
	d, err := fs.openDir(dir)
	if err != nil {
		return nil, err
	}
	out := make([]DirEntry, len(d.ents))
	for i := range d.ents {
		out[i] = fs.dirEntry(&d.ents[i])
	}
	return out, nil
}

func (fs *FS) dirEntry(e *dirent) DirEntry {
	return DirEntry{Name: e.name, Ino: e.ino, Mode: fs.mode(&e.e)}
}

// Lookup finds name in a directory, case-insensitively, by long or 8.3
// name as Linux vfat does; an exact match wins over a folded one.
func (fs *FS) Lookup(dir uint64, name string) (DirEntry, error) {
	d, err := fs.openDir(dir)
	if err != nil {
		return DirEntry{}, err
	}
	if i := d.lookup(name); i >= 0 {
		return fs.dirEntry(&d.ents[i]), nil
	}
	return DirEntry{}, fmt.Errorf("fat: lookup %q in directory inode %d: %w", name, dir, iofs.ErrNotExist)
}

// openDir loads the directory an inode number names.
func (fs *FS) openDir(ino uint64) (*dirData, error) {
	if ino == RootIno {
		return fs.rootDir()
	}
	e, err := fs.entryAt(ino)
	if err != nil {
		return nil, err
	}
	if !e.isDir() {
		return nil, fmt.Errorf("fat: inode %d: %w", ino, ErrNotDir)
	}
	return fs.dir(ino, e.cluster(fs.l.fatBits == 32))
}

// Readlink always fails: FAT has no symbolic links.
func (fs *FS) Readlink(ino uint64) (string, error) {
	if _, err := fs.Stat(ino); err != nil {
		return "", err
	}
	return "", fmt.Errorf("fat: readlink inode %d: FAT has no symbolic links: %w", ino, errors.ErrUnsupported)
}

// ListXattr returns no names: FAT has no extended attributes.
func (fs *FS) ListXattr(ino uint64) ([]string, error) {
	if ino != RootIno {
		if _, err := fs.entryAt(ino); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// GetXattr always fails with an error wrapping io/fs.ErrNotExist.
func (fs *FS) GetXattr(ino uint64, name string) ([]byte, error) {
	if ino != RootIno {
		if _, err := fs.entryAt(ino); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("fat: xattr %q of inode %d: %w", name, ino, iofs.ErrNotExist)
}
