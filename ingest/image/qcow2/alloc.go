package qcow2

import (
	"fmt"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
)

// Allocated lists the ranges that may hold data: clusters (or subclusters)
// with data in this image, plus whatever the backing chain has allocated
// where this image defers to it. Zero clusters mask the backing file, and
// clusters whose host bytes are file-system holes (preallocation=metadata)
// are left out.
func (d *Disk) Allocated() ([]vdisk.Extent, error) {
	var plain vdisk.MappedAppender
	var data, unalloc vdisk.Appender
	covers := d.l2Entries * d.clusterSize
	for l1i := range int64(len(d.l1)) {
		base := l1i * covers
		if base >= d.size {
			break
		}
		table, err := d.l2table(l1i)
		if err != nil {
			return nil, err
		}
		if table == nil {
			unalloc.Add(base, min(covers, d.size-base))
			continue
		}
		for l2i := range d.l2Entries {
			vc := base/d.clusterSize + l2i
			for in := int64(0); in < d.clusterSize; {
				off := vc*d.clusterSize + in
				if off >= d.size {
					break
				}
				m, err := d.entryMapping(table, l2i, vc, in)
				if err != nil {
					return nil, err
				}
				n := min(m.n, d.size-off)
				switch m.kind {
				case kindData:
					plain.Add(off, n, m.host)
				case kindCompressed:
					data.Add(off, n)
				case kindUnalloc:
					unalloc.Add(off, n)
				}
				in += m.n
			}
		}
	}
	out, err := vdisk.DropHoles(d.src, plain.List)
	if err != nil {
		return nil, fmt.Errorf("qcow2 %q: holes of the image file: %w", d.name, err)
	}
	out = append(out, data.List...)
	if d.backing != nil && len(unalloc.List) > 0 {
		b, err := d.backing.Allocated()
		if err != nil {
			return nil, fmt.Errorf("qcow2 %q: backing file %q: %w", d.name, d.backingName, err)
		}
		out = append(out, vdisk.Intersect(vdisk.Clip(b, d.size), unalloc.List)...)
	}
	return vdisk.Coalesce(out), nil
}
