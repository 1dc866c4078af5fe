package guestfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"syscall"
)

// FileBoundaries lists the disk offsets where the data of a large file
// starts or ends, rounded in to align bytes (so the blocks between two
// boundaries hold the file's bytes only, even where the filesystem's
// clusters do not sit on align multiples): the edges of every extent of
// every regular file with at least minSize bytes on disk, on every volume of d whose
// filesystem maps files to volume bytes. The offsets are sorted, unique
// and at most maxCuts long (each volume's walk stops there).
//
// A chunker that also cuts at these offsets keeps a large file's chunks
// the same wherever the guest puts the file: moved, copied to another
// filesystem, or with other neighbours. Any error but ctx's is dropped
// (Boundaries.Problems counts them): a boundary is a hint, and what cannot
// be walked gets none.
func FileBoundaries(ctx context.Context, d *Disk, minSize, align int64, maxCuts int) ([]int64, error) {
	b := StartFileBoundaries(ctx, d, minSize, align, maxCuts)
	defer b.Stop()
	var cuts []int64
	for from := int64(0); from != math.MaxInt64; {
		c, to, err := b.Next(ctx, from)
		if err != nil {
			return nil, err
		}
		cuts, from = append(cuts, c...), to
	}
	return cuts[:min(len(cuts), maxCuts)], nil
}

// fileBoundaries is FileBoundaries for the files of one volume.
// onErr is told of what the walk went past.
func (v *Volume) fileBoundaries(ctx context.Context, x Extenter, minSize, align int64, maxCuts int, onErr ErrFunc) []int64 {
	var cuts []int64
	Walk(ctx, v.FS, Limits{}, func(p string, e DirEntry) error {
		if e.Mode&syscall.S_IFMT != syscall.S_IFREG {
			return nil
		}
		if len(cuts) >= maxCuts {
			return errEnough
		}
		es, err := x.Extents(e.Ino)
		if err != nil {
			onErr(p, fmt.Errorf("extents: %w", err))
			return nil
		}
		cuts = v.FileCuts(cuts, es, minSize, align)
		return nil
	}, onErr)
	return cuts
}

// FileCuts appends to cuts the boundaries FileBoundaries gives for one
// regular file of v whose extents are es: none when it has fewer than
// minSize bytes on disk. A walk of v's files of its own (the file index's)
// gives them with it, and NewBoundaries hands them out.
func (v *Volume) FileCuts(cuts []int64, es []Extent, minSize, align int64) []int64 {
	var n int64 // bytes on disk: what a chunk could share
	for _, ex := range es {
		n += ex.Length
	}
	if n < minSize {
		return cuts
	}
	for _, ex := range es {
		lo, ok1 := v.diskOffset(ex.Physical)
		hi, ok2 := v.diskOffset(ex.Physical + ex.Length - 1)
		if ok1 && ok2 && hi-lo == ex.Length-1 { // one piece of the layout
			cuts = append(cuts, (lo+align-1)/align*align, (hi+1)/align*align)
		}
	}
	return cuts
}

var errEnough = errors.New("enough boundaries")

// diskOffset maps a byte of the volume to its disk offset. The layout is
// in volume order (a thin LV's may have thousands of pieces).
func (v *Volume) diskOffset(off int64) (int64, bool) {
	i := sort.Search(len(v.Layout), func(i int) bool { return v.Layout[i].Off+v.Layout[i].Len > off })
	if i < len(v.Layout) && off >= v.Layout[i].Off {
		return v.Layout[i].DiskOff + off - v.Layout[i].Off, true
	}
	return 0, false
}

// DiskFileBoundaries is FileBoundaries of the disk r of size bytes; a
// disk without a partition table or filesystem it knows has none.
func DiskFileBoundaries(ctx context.Context, r io.ReaderAt, size, minSize, align int64, maxCuts int) ([]int64, error) {
	d, err := OpenDisk(r, size, nil)
	if err != nil {
		return nil, nil // nothing to read: content alone cuts the disk
	}
	return FileBoundaries(ctx, d, minSize, align, maxCuts)
}
