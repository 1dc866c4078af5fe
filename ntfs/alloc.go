package ntfs

import (
	"fmt"
	"io"
)

// recordBitmap is the MFT record of $Bitmap, one bit per cluster.
const recordBitmap = 6

// Run is a run of allocated clusters, in volume bytes.
type Run struct {
	Offset, Length int64
}

// Allocation lists the clusters $Bitmap marks in use, in volume order,
// adjacent runs merged. Everything else is free. It reads all of $Bitmap.
func (fs *FS) Allocation() ([]Run, error) {
	f, err := fs.Open(recordBitmap)
	if err != nil {
		return nil, fmt.Errorf("$Bitmap: %w", err)
	}
	cs := fs.info.ClusterSize
	clusters := fs.info.TotalBytes / cs
	need := (clusters + 7) / 8
	if f.Size() < need {
		return nil, fmt.Errorf("$Bitmap: %w", corruptf("%d bytes for %d clusters", f.Size(), clusters))
	}
	var out []Run
	buf := make([]byte, 64<<10)
	for base := int64(0); base < need; base += int64(len(buf)) {
		b := buf[:min(int64(len(buf)), need-base)]
		if n, err := f.ReadAt(b, base); n < len(b) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("$Bitmap at byte %d: %w", base, err)
		}
		for i, v := range b {
			if v == 0 {
				continue
			}
			for bit := 0; bit < 8; bit++ {
				c := (base+int64(i))*8 + int64(bit)
				if v&(1<<bit) == 0 || c >= clusters {
					continue
				}
				if k := len(out) - 1; k >= 0 && out[k].Offset+out[k].Length == c*cs {
					out[k].Length += cs
				} else {
					out = append(out, Run{c * cs, cs})
				}
			}
		}
	}
	return out, nil
}

// IndexExtents maps the index blocks ($I30 $INDEX_ALLOCATION) of directory
// ino to volume bytes; a directory small enough to live in its MFT record
// has none.
func (fs *FS) IndexExtents(ino uint64) ([]Extent, error) {
	_, ix, err := fs.dirIndex(ino)
	if err != nil {
		return nil, err
	}
	if ix.alloc == nil {
		return nil, nil
	}
	return ix.alloc.extents(), nil
}
