package fat

import (
	"fmt"
	"io"
	"sort"
)

// Extent maps a run of a file's bytes to bytes of the volume.
type Extent struct {
	Logical  int64 // offset in the file
	Physical int64 // offset in the volume
	Length   int64
}

// File is an open file (or the raw entries of a directory). ReadAt is safe
// for concurrent use.
type File struct {
	fs   *FS
	ino  uint64
	size int64
	ext  []Extent // covers exactly size bytes
}

// Open opens an inode for reading. A file's cluster chain is followed once
// here: a chain that loops, leaves the volume or ends before the file's
// size is an error wrapping ErrCorrupt. Opening a directory gives its raw
// 32-byte entries.
func (fs *FS) Open(ino uint64) (*File, error) {
	if ino == RootIno {
		d, err := fs.rootDir()
		if err != nil {
			return nil, err
		}
		return &File{fs: fs, ino: ino, size: d.size, ext: d.ext}, nil
	}
	e, err := fs.entryAt(ino)
	if err != nil {
		return nil, err
	}
	if e.isDir() {
		d, err := fs.dir(ino, e.cluster(fs.l.fatBits == 32))
		if err != nil {
			return nil, err
		}
		return &File{fs: fs, ino: ino, size: d.size, ext: d.ext}, nil
	}
	size := int64(e.FileSize)
	f := &File{fs: fs, ino: ino, size: size}
	if size == 0 {
		return f, nil
	}
	need := (size + fs.l.clusterSize - 1) / fs.l.clusterSize
	what := fmt.Sprintf("file inode %d", ino)
	runs, _, err := fs.fat.chain(e.cluster(fs.l.fatBits == 32), need, what)
	if err != nil {
		return nil, fmt.Errorf("fat: %w", err)
	}
	got := int64(0)
	for _, r := range runs {
		got += int64(r.count)
	}
	if got < need {
		return nil, fmt.Errorf("fat: %s: cluster chain ends after %d clusters, size %d needs %d: %w", what, got, size, need, ErrCorrupt)
	}
	f.ext = fs.runExtents(runs, size)
	return f, nil
}

// Size returns the file's size in bytes.
func (f *File) Size() int64 { return f.size }

// Extents returns where the file's bytes are in the volume, one extent per
// run of consecutive clusters, in file order. The last extent ends at the
// file's size, not at the end of its cluster.
func (f *File) Extents() ([]Extent, error) {
	return append([]Extent(nil), f.ext...), nil
}

// ReadAt reads len(p) bytes at offset off of the file.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("fat: read inode %d: negative offset %d", f.ino, off)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if off >= f.size {
		return 0, io.EOF
	}
	n := len(p)
	if rest := f.size - off; int64(n) > rest {
		n = int(rest)
	}
	if err := f.fs.readExtents(p[:n], f.ext, off); err != nil {
		return 0, fmt.Errorf("fat: read inode %d: %w", f.ino, err)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// runExtents turns cluster runs into extents, cut to size bytes (all of
// the runs when size < 0).
func (fs *FS) runExtents(runs []run, size int64) []Extent {
	ext := make([]Extent, 0, len(runs))
	logical := int64(0)
	for _, r := range runs {
		n := int64(r.count) * fs.l.clusterSize
		if size >= 0 {
			n = min(n, size-logical)
		}
		if n <= 0 {
			break
		}
		ext = append(ext, Extent{Logical: logical, Physical: fs.l.clusterOffset(r.first), Length: n})
		logical += n
	}
	return ext
}

func extentsLength(ext []Extent) int64 {
	if len(ext) == 0 {
		return 0
	}
	last := ext[len(ext)-1]
	return last.Logical + last.Length
}

// physical maps a logical offset, which must be covered, to the volume.
func physical(ext []Extent, off int64) int64 {
	i := sort.Search(len(ext), func(i int) bool { return ext[i].Logical+ext[i].Length > off })
	return ext[i].Physical + off - ext[i].Logical
}

// readExtents fills p with the bytes at logical offset off of the data
// described by ext; the range must be covered by ext. Bytes beyond the end
// of the image are reported as a truncated image.
func (fs *FS) readExtents(p []byte, ext []Extent, off int64) error {
	i := sort.Search(len(ext), func(i int) bool { return ext[i].Logical+ext[i].Length > off })
	for len(p) > 0 {
		if i >= len(ext) {
			return fmt.Errorf("logical offset %d is not mapped: %w", off, ErrCorrupt)
		}
		e := ext[i]
		skip := off - e.Logical
		n := min(int64(len(p)), e.Length-skip)
		phys := e.Physical + skip
		if phys+n > fs.size {
			return fmt.Errorf("bytes %d..%d of the volume are beyond the end of the image (%d bytes): truncated image: %w",
				phys, phys+n, fs.size, ErrCorrupt)
		}
		if _, err := fs.r.ReadAt(p[:n], phys); err != nil && err != io.EOF {
			return fmt.Errorf("read volume offset %d: %w", phys, err)
		}
		p, off = p[n:], off+n
		i++
	}
	return nil
}

// Extents is File.Extents for inode ino.
func (fs *FS) Extents(ino uint64) ([]Extent, error) {
	f, err := fs.Open(ino)
	if err != nil {
		return nil, err
	}
	return f.Extents()
}
