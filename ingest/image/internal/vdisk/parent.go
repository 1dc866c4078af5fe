package vdisk

import (
	"errors"
	"fmt"
	"io"
)

// ReadParent fills p with the parent's bytes at off; what lies past the
// parent's end, or everything without a parent, reads as zeros (a child
// may be larger than its parent). what names the parent in errors.
func ReadParent(parent Disk, p []byte, off int64, what string) error {
	if parent == nil || off >= parent.Size() {
		clear(p)
		return nil
	}
	n, err := parent.ReadAt(p, off)
	if err != nil && !(errors.Is(err, io.EOF) && off+int64(len(p)) >= parent.Size()) {
		return fmt.Errorf("%s at %d: %w", what, off, err)
	}
	clear(p[n:])
	return nil
}

// BitRuns calls fn for each run of equal bits in bits [from, to) of an
// MSB-first bitmap (bit i is bitmap[i/8] & (0x80 >> (i%8))), as VHD
// sector bitmaps are, and LSB-first when lsb is set (VHDX).
func BitRuns(bitmap []byte, from, to int64, lsb bool, fn func(set bool, from, to int64)) {
	bit := func(i int64) bool {
		if lsb {
			return bitmap[i/8]&(1<<(i%8)) != 0
		}
		return bitmap[i/8]&(0x80>>(i%8)) != 0
	}
	for i := from; i < to; {
		set := bit(i)
		j := i + 1
		for j < to {
			if j%8 == 0 && j+8 <= to { // whole bytes at a time
				b := bitmap[j/8]
				if set && b == 0xff || !set && b == 0 {
					j += 8
					continue
				}
			}
			if bit(j) != set {
				break
			}
			j++
		}
		fn(set, i, j)
		i = j
	}
}
