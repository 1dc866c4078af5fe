package vhd

import (
	"fmt"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
)

// ReadAt reads the virtual disk; it is safe for concurrent use.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) {
	q, eof := vdisk.ClampRead(p, off, d.size)
	if len(q) == 0 {
		return 0, eof
	}
	if d.footer.DiskType == typeFixed {
		if err := vdisk.ReadFull(d.src, q, off, fmt.Sprintf("vhd %q: data", d.name)); err != nil {
			return 0, err
		}
		return len(q), eof
	}
	for rest, pos := q, off; len(rest) > 0; {
		n, err := d.readBlock(rest, pos)
		if err != nil {
			return 0, err
		}
		rest, pos = rest[n:], pos+int64(n)
	}
	return len(q), eof
}

// readBlock reads from the block holding off, up to its end, and returns
// the bytes read.
func (d *Disk) readBlock(p []byte, off int64) (int, error) {
	blk, in := off/d.blockSize, off%d.blockSize
	p = p[:min(int64(len(p)), d.blockSize-in)]
	if d.bat[blk] == unallocated {
		return len(p), d.readParent(p, off)
	}
	bm, err := d.bitmap(blk)
	if err != nil {
		return 0, err
	}
	data := int64(d.bat[blk])*512 + d.bitmapLen
	first, last := in/512, (in+int64(len(p))+511)/512
	var rerr error
	vdisk.BitRuns(bm, first, last, false, func(set bool, from, to int64) {
		lo, hi := max(from*512, in)-in, min(to*512, in+int64(len(p)))-in
		if rerr != nil {
			return
		}
		if set {
			rerr = vdisk.ReadFull(d.src, p[lo:hi], data+in+lo, fmt.Sprintf("vhd %q: block %d", d.name, blk))
		} else {
			rerr = d.readParent(p[lo:hi], off+lo)
		}
	})
	return len(p), rerr
}

// readParent reads what this image leaves to its parent: zeros for a
// dynamic disk.
func (d *Disk) readParent(p []byte, off int64) error {
	return vdisk.ReadParent(d.parent, p, off, fmt.Sprintf("vhd %q: parent %q", d.name, d.parentName))
}

// bitmap returns the sector bitmap of allocated block blk.
func (d *Disk) bitmap(blk int64) ([]byte, error) {
	if b, ok := d.bitmaps.Get(blk); ok {
		return b, nil
	}
	b := make([]byte, d.bitmapLen)
	if err := vdisk.ReadFull(d.src, b, int64(d.bat[blk])*512, fmt.Sprintf("vhd %q: sector bitmap of block %d", d.name, blk)); err != nil {
		return nil, err
	}
	d.bitmaps.Add(blk, b)
	return b, nil
}

// Allocated lists the ranges that may hold data: sectors marked in the
// bitmaps of allocated blocks whose host bytes are no file-system holes,
// plus what the parent has allocated where this disk defers to it.
func (d *Disk) Allocated() ([]vdisk.Extent, error) {
	if d.footer.DiskType == typeFixed {
		ext, err := vdisk.DropHoles(d.src, []vdisk.Mapped{{Off: 0, Len: d.size, Host: 0}})
		if err != nil {
			return nil, fmt.Errorf("vhd %q: holes of the image file: %w", d.name, err)
		}
		return vdisk.Coalesce(ext), nil
	}
	var data vdisk.MappedAppender
	var deferred vdisk.Appender
	for blk := range int64(len(d.bat)) {
		base := blk * d.blockSize
		n := min(d.blockSize, d.size-base)
		if d.bat[blk] == unallocated {
			deferred.Add(base, n)
			continue
		}
		bm, err := d.bitmap(blk)
		if err != nil {
			return nil, err
		}
		host := int64(d.bat[blk])*512 + d.bitmapLen
		vdisk.BitRuns(bm, 0, (n+511)/512, false, func(set bool, from, to int64) {
			lo, hi := from*512, min(to*512, n)
			if set {
				data.Add(base+lo, hi-lo, host+lo)
			} else {
				deferred.Add(base+lo, hi-lo)
			}
		})
	}
	out, err := vdisk.DropHoles(d.src, data.List)
	if err != nil {
		return nil, fmt.Errorf("vhd %q: holes of the image file: %w", d.name, err)
	}
	if d.parent != nil && len(deferred.List) > 0 {
		pa, err := d.parent.Allocated()
		if err != nil {
			return nil, fmt.Errorf("vhd %q: parent %q: %w", d.name, d.parentName, err)
		}
		out = append(out, vdisk.Intersect(vdisk.Clip(pa, d.size), deferred.List)...)
	}
	return vdisk.Coalesce(out), nil
}
