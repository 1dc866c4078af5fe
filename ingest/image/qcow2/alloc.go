package qcow2

import (
	"fmt"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
)

// Allocated lists the ranges that may hold data: clusters (or subclusters)
// with data in this image, plus whatever the backing chain has allocated
// where this image defers to it. Zero clusters mask the backing file.
func (d *Disk) Allocated() ([]vdisk.Extent, error) {
	var data, unalloc vdisk.Appender
	for off := int64(0); off < d.size; {
		m, err := d.lookup(off)
		if err != nil {
			return nil, err
		}
		n := min(m.n, d.size-off)
		switch m.kind {
		case kindData, kindCompressed:
			data.Add(off, n)
		case kindUnalloc:
			unalloc.Add(off, n)
		}
		off += n
	}
	out := data.List
	if d.backing != nil && len(unalloc.List) > 0 {
		b, err := d.backing.Allocated()
		if err != nil {
			return nil, fmt.Errorf("qcow2 %s: backing file %q: %w", d.name, d.backingName, err)
		}
		out = append(out, vdisk.Intersect(vdisk.Clip(b, d.size), unalloc.List)...)
	}
	return vdisk.Coalesce(out), nil
}
