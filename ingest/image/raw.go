package image

import (
	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
)

// rawDisk is a disk stored byte for byte in one source.
type rawDisk struct {
	src vdisk.Source
	c   func() error
}

var _ Disk = (*rawDisk)(nil)

func newRaw(src vdisk.SourceCloser) *rawDisk { return &rawDisk{src: src, c: src.Close} }

func (d *rawDisk) Size() int64    { return d.src.Size() }
func (d *rawDisk) Format() string { return "raw" }
func (d *rawDisk) Close() error   { return d.c() }

// ReadAt reads straight from the source.
func (d *rawDisk) ReadAt(p []byte, off int64) (int, error) {
	q, eof := vdisk.ClampRead(p, off, d.src.Size())
	if len(q) == 0 {
		return 0, eof
	}
	if err := vdisk.ReadFull(d.src, q, off, "raw"); err != nil {
		return 0, err
	}
	return len(q), eof
}

// Allocated asks the file system for holes when it can; otherwise the
// whole disk may hold data.
func (d *rawDisk) Allocated() ([]Extent, error) {
	if dr, ok := d.src.(vdisk.DataRanger); ok {
		return dr.DataExtents(0, d.src.Size())
	}
	if d.src.Size() == 0 {
		return nil, nil
	}
	return []Extent{{Off: 0, Len: d.src.Size()}}, nil
}
