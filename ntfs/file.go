package ntfs

import (
	"errors"
	"fmt"
	"io"
)

// File is an open file's data. ReadAt is safe for concurrent use.
type File struct {
	r       io.ReaderAt
	size    int64
	extents func() ([]Extent, error)
}

// ReadAt implements io.ReaderAt.
func (f *File) ReadAt(p []byte, off int64) (int, error) { return f.r.ReadAt(p, off) }

// Size returns the file's length in bytes.
func (f *File) Size() int64 { return f.size }

// Extents maps the file's allocated bytes to volume bytes; sparse ranges
// are left out. A resident file maps to its value inside the MFT record.
// For compressed files the extents cover the compressed clusters, placed at
// the logical offset of the compression unit they belong to.
func (f *File) Extents() ([]Extent, error) { return f.extents() }

// Open opens the unnamed data stream of inode ino.
func (fs *FS) Open(ino uint64) (*File, error) {
	n, err := fs.inode(ino)
	if err != nil {
		return nil, err
	}
	if n.isDir() {
		return nil, fmt.Errorf("open inode %d: is a directory", ino)
	}
	si, err := n.stdInfo()
	if err != nil {
		return nil, err
	}
	if si.Attributes&faReparse != 0 {
		tag, v, err := fs.reparse(n)
		if err != nil {
			return nil, err
		}
		switch {
		case tag == tagWOF:
			return fs.openWOF(n, v)
		case isCloudTag(tag) || tag == tagHSM || tag == tagHSM2:
			return nil, fmt.Errorf("open inode %d (reparse tag 0x%08x): %w", ino, tag, ErrOffline)
		case tag == tagDedup:
			return nil, fmt.Errorf("open inode %d: data deduplication reparse point: %w", ino, errors.ErrUnsupported)
		}
	}
	if si.Attributes&(faRecallOpen|faRecallAccess) != 0 {
		return nil, fmt.Errorf("open inode %d: %w", ino, ErrOffline)
	}
	return fs.openStream(n, "", si)
}

// openStream opens the $DATA attribute called name.
func (fs *FS) openStream(n *inode, name string, si stdInfo) (*File, error) {
	a := n.find(atData, name)
	if a == nil {
		if name == "" {
			return &File{r: emptyReader{}, extents: func() ([]Extent, error) { return nil, nil }}, nil
		}
		return nil, fmt.Errorf("MFT record %d: no data stream %q", n.Num, name)
	}
	if a.Flags&attrEncrypted != 0 || si.Attributes&faEncrypted != 0 && a.Flags&attrCompressionMask == 0 && !a.Resident {
		return nil, fmt.Errorf("open MFT record %d stream %q: %w", n.Num, name, ErrEncrypted)
	}
	if !a.Resident && a.LowVCN != 0 {
		return nil, fmt.Errorf("MFT record %d: %w", n.Num, corruptf("$DATA %q starts at VCN %d", name, a.LowVCN))
	}
	s := newStream(fs, a, fmt.Sprintf("MFT record %d $DATA %q", n.Num, name))
	return &File{r: s, size: s.size(), extents: func() ([]Extent, error) {
		if a.Resident {
			return fs.residentExtent(n, a)
		}
		return s.extents(), nil
	}}, nil
}

// residentExtent locates a resident value inside its MFT record.
func (fs *FS) residentExtent(n *inode, a *attribute) ([]Extent, error) {
	if len(a.Value) == 0 {
		return nil, nil
	}
	// The value's position is not kept after decoding; report the record.
	off := int64(n.Num) * fs.recordSize
	cs := fs.clusterSize
	i := findRun(fs.mft.a.Runs, off/cs)
	if i == len(fs.mft.a.Runs) || fs.mft.a.Runs[i].LCN == sparseLCN {
		return nil, fmt.Errorf("MFT record %d: %w", n.Num, corruptf("record not mapped by $MFT"))
	}
	r := fs.mft.a.Runs[i]
	return []Extent{{Logical: 0, Physical: r.LCN*cs + off - r.VCN*cs, Length: min(fs.recordSize, (r.VCN+r.Length)*cs-off)}}, nil
}

type emptyReader struct{}

func (emptyReader) ReadAt(p []byte, off int64) (int, error) { return 0, io.EOF }
