package vhdx

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
	e := d.bat[d.payloadIndex(blk)]
	host := entryOffset(e)
	switch entryState(e) {
	case blockNotPresent:
		return len(p), d.readParent(p, off)
	case blockFullyPresent:
		return len(p), vdisk.ReadFull(d.src, p, host+in, fmt.Sprintf("vhdx %q: block %d", d.name, blk))
	case blockPartiallyPresent:
		return len(p), d.readPartial(p, off)
	}
	clear(p) // zero, unmapped, undefined
	return len(p), nil
}

// readPartial reads p at off inside one partially present block: sectors
// set in the chunk's bitmap from this file, the others from the parent.
func (d *Disk) readPartial(p []byte, off int64) error {
	blk, in := off/d.blockSize, off%d.blockSize
	bm, err := d.bitmap(blk / d.chunkRatio)
	if err != nil {
		return err
	}
	host := entryOffset(d.bat[d.payloadIndex(blk)])
	base := (blk % d.chunkRatio) * d.blockSize / d.sector // first bit of the block
	first, last := in/d.sector, (in+int64(len(p))+d.sector-1)/d.sector
	var rerr error
	vdisk.BitRuns(bm, base+first, base+last, true, func(set bool, from, to int64) {
		if rerr != nil {
			return
		}
		lo := max((from-base)*d.sector, in) - in
		hi := min((to-base)*d.sector, in+int64(len(p))) - in
		if set {
			rerr = vdisk.ReadFull(d.src, p[lo:hi], host+in+lo, fmt.Sprintf("vhdx %q: block %d", d.name, blk))
		} else {
			rerr = d.readParent(p[lo:hi], off+lo)
		}
	})
	return rerr
}

func (d *Disk) readParent(p []byte, off int64) error {
	return vdisk.ReadParent(d.parent, p, off, fmt.Sprintf("vhdx %q: parent %q", d.name, d.parentName))
}

// bitmap returns the sector bitmap block of chunk c.
func (d *Disk) bitmap(c int64) ([]byte, error) {
	if b, ok := d.bitmaps.Get(c); ok {
		return b, nil
	}
	i := d.bitmapIndex(c)
	if i >= int64(len(d.bat)) || entryState(d.bat[i]) != bitmapPresent {
		return nil, vdisk.Corruptf("vhdx %q: chunk %d has partially present blocks but no sector bitmap (BAT entry %d)", d.name, c, i)
	}
	b := make([]byte, bitmapBlock)
	if err := vdisk.ReadFull(d.src, b, entryOffset(d.bat[i]), fmt.Sprintf("vhdx %q: sector bitmap of chunk %d", d.name, c)); err != nil {
		return nil, err
	}
	d.bitmaps.Add(c, b)
	return b, nil
}

// Allocated lists the ranges that may hold data: present blocks and
// sectors whose host bytes are no file-system holes, plus what the
// parent has allocated where this disk defers to it.
func (d *Disk) Allocated() ([]vdisk.Extent, error) {
	var data vdisk.MappedAppender
	var deferred vdisk.Appender
	for blk := int64(0); blk*d.blockSize < d.size; blk++ {
		base := blk * d.blockSize
		n := min(d.blockSize, d.size-base)
		e := d.bat[d.payloadIndex(blk)]
		switch entryState(e) {
		case blockNotPresent:
			deferred.Add(base, n)
		case blockFullyPresent:
			data.Add(base, n, entryOffset(e))
		case blockPartiallyPresent:
			if err := d.partialRuns(blk, n, &data, &deferred); err != nil {
				return nil, err
			}
		}
	}
	out, err := vdisk.DropHoles(d.src, data.List)
	if err != nil {
		return nil, fmt.Errorf("vhdx %q: holes of the image file: %w", d.name, err)
	}
	if d.parent != nil && len(deferred.List) > 0 {
		pa, err := d.parent.Allocated()
		if err != nil {
			return nil, fmt.Errorf("vhdx %q: parent %q: %w", d.name, d.parentName, err)
		}
		out = append(out, vdisk.Intersect(vdisk.Clip(pa, d.size), deferred.List)...)
	}
	return vdisk.Coalesce(out), nil
}

// partialRuns splits the first n bytes of partially present block blk
// by its sector bitmap.
func (d *Disk) partialRuns(blk, n int64, data *vdisk.MappedAppender, deferred *vdisk.Appender) error {
	bm, err := d.bitmap(blk / d.chunkRatio)
	if err != nil {
		return err
	}
	base, host := blk*d.blockSize, entryOffset(d.bat[d.payloadIndex(blk)])
	bit0 := (blk % d.chunkRatio) * d.blockSize / d.sector
	vdisk.BitRuns(bm, bit0, bit0+(n+d.sector-1)/d.sector, true, func(set bool, from, to int64) {
		lo, hi := (from-bit0)*d.sector, min((to-bit0)*d.sector, n)
		if set {
			data.Add(base+lo, hi-lo, host+lo)
		} else {
			deferred.Add(base+lo, hi-lo)
		}
	})
	return nil
}
