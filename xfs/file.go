package xfs

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// Extent maps a run of a file's bytes to bytes of the volume.
type Extent struct {
	Logical  int64 // offset in the file
	Physical int64 // offset in the volume
	Length   int64
	// Unwritten is a preallocated extent: allocated, read as zeros.
	Unwritten bool
}

// File is an open regular file (or directory, for its block map).
// ReadAt is safe for concurrent use.
type File struct {
	fs    *FS
	in    *inode
	size  int64
	local []byte // data of a local-format fork
	once  sync.Once
	runs  []run
	err   error
}

// Open opens inode ino for reading.
func (fs *FS) Open(ino uint64) (*File, error) {
	in, err := fs.inode(ino)
	if err != nil {
		return nil, err
	}
	if in.fileType() != sIFREG && !in.isDir() {
		return nil, fmt.Errorf("inode %d: mode %#o is not a regular file or directory", ino, in.mode)
	}
	if in.flags&diflagRealtime != 0 {
		return nil, fmt.Errorf("inode %d: %w (%w)", ino, ErrRealtime, errors.ErrUnsupported)
	}
	f := &File{fs: fs, in: in, size: int64(in.size)}
	if f.size < 0 {
		return nil, corruptf("inode %d: size %d", ino, in.size)
	}
	if in.format == fmtLocal {
		if in.size > uint64(len(in.dataFork)) {
			return nil, corruptf("inode %d: %d bytes of local data in a %d-byte fork", ino, in.size, len(in.dataFork))
		}
		f.local = in.dataFork[:in.size]
	}
	return f, nil
}

// Size is the file's length in bytes.
func (f *File) Size() int64 { return f.size }

// Ino is the file's inode number.
func (f *File) Ino() uint64 { return f.in.ino }

func (f *File) load() error {
	f.once.Do(func() {
		if f.local == nil {
			f.runs, f.err = f.fs.forkRuns(f.in, f.in.dataFork, f.in.format, f.in.nextents, "data")
		}
	})
	return f.err
}

// ReadAt reads the file's bytes at off. Holes and unwritten extents read
// as zeros.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("inode %d: negative offset %d", f.in.ino, off)
	}
	if off >= f.size {
		return 0, io.EOF
	}
	n := len(p)
	if rest := f.size - off; int64(n) > rest {
		n = int(rest)
	}
	if f.local != nil {
		copy(p, f.local[off:off+int64(n)])
	} else if err := f.load(); err != nil {
		return 0, err
	} else if err := f.readRuns(p[:n], off); err != nil {
		return 0, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *File) readRuns(p []byte, off int64) error {
	bl := f.fs.sb.blockLog
	for len(p) > 0 {
		lblk := uint64(off) >> bl
		within := off - int64(lblk<<bl)
		i := findRun(f.runs, lblk)
		var n int64
		if i < 0 || f.runs[i].unwritten {
			end := f.holeEnd(lblk)
			if i >= 0 {
				end = int64(f.runs[i].lblk+f.runs[i].count) << bl
			}
			n = min(int64(len(p)), end-off)
			clear(p[:n])
		} else {
			r := f.runs[i]
			n = min(int64(len(p)), int64(r.lblk+r.count)<<bl-off)
			phys := r.phys + int64(lblk-r.lblk)<<bl + within
			if err := f.fs.readAt(p[:n], phys); err != nil {
				return fmt.Errorf("inode %d: data at %d: %w", f.in.ino, off, err)
			}
		}
		p, off = p[n:], off+n
	}
	return nil
}

// holeEnd is the byte offset where the hole holding lblk ends.
func (f *File) holeEnd(lblk uint64) int64 {
	for _, r := range f.runs {
		if r.lblk > lblk {
			return int64(r.lblk) << f.fs.sb.blockLog
		}
	}
	return f.size
}

// Extents lists where the file's bytes are on the volume, in file order,
// unwritten extents included (marked).
func (f *File) Extents() ([]Extent, error) {
	if f.local != nil {
		return nil, nil
	}
	if err := f.load(); err != nil {
		return nil, err
	}
	bl := f.fs.sb.blockLog
	out := make([]Extent, 0, len(f.runs))
	for _, r := range f.runs {
		out = append(out, Extent{int64(r.lblk) << bl, r.phys, int64(r.count) << bl, r.unwritten})
	}
	return out, nil
}

// readFork reads n filesystem blocks from logical block lblk of a mapped
// fork; every block must be mapped and written.
func (fs *FS) readFork(runs []run, lblk, n uint64, what string) ([]byte, error) {
	bl := fs.sb.blockLog
	out := make([]byte, n<<bl)
	for done := uint64(0); done < n; {
		i := findRun(runs, lblk+done)
		if i < 0 || runs[i].unwritten {
			return nil, corruptf("%s: block %d is not mapped", what, lblk+done)
		}
		r := runs[i]
		k := min(n-done, r.lblk+r.count-(lblk+done))
		phys := r.phys + int64(lblk+done-r.lblk)<<bl
		if err := fs.readAt(out[done<<bl:(done+k)<<bl], phys); err != nil {
			return nil, fmt.Errorf("%s: block %d: %w", what, lblk+done, err)
		}
		done += k
	}
	return out, nil
}
