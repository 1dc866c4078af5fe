package vsphere

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync/atomic"

	"github.com/vmarchive/vmarchive/ingest/vsphere/layout"

	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
)

// flatDisk reads a virtual disk's flat extents over HTTP. It satisfies
// ingest.Disk and is safe for concurrent use.
type flatDisk struct {
	ctx   context.Context // the run's context: cancels requests in flight
	files *datastoreFiles
	size  int64
	segs  []layout.Segment // sorted by Off, covering [0, size)
	alloc []image.Extent   // areas worth reading; nil: every file-backed area
	read  atomic.Int64     // bytes fetched over HTTP

	// With CBT, only changed (sorted, merged) crosses the network; the
	// rest of each chunk the pipeline asks for is the same as in the
	// previous point and is read from base, so a 1% change moves about 1%
	// of the disk instead of every chunk it touches.
	changed []image.Extent
	base    io.ReaderAt
}

var _ ingest.Disk = (*flatDisk)(nil)

func (d *flatDisk) Size() int64 { return d.size }

func (d *flatDisk) Allocated() ([]image.Extent, error) {
	if d.alloc != nil {
		return d.alloc, nil
	}
	return layout.DataExtents(d.segs), nil
}

// ReadAt reads p from off, zeros outside the files, io.EOF past the end.
func (d *flatDisk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read at negative offset %d", off)
	}
	if off >= d.size {
		return 0, io.EOF
	}
	want := len(p)
	if int64(want) > d.size-off {
		p = p[:d.size-off]
	}
	i := sort.Search(len(d.segs), func(i int) bool { return d.segs[i].Off+d.segs[i].Len > off })
	done := 0
	for done < len(p) && i < len(d.segs) {
		s := d.segs[i]
		at := off + int64(done)
		n := int(min(int64(len(p)-done), s.Off+s.Len-at))
		buf := p[done : done+n]
		if s.File == "" {
			clear(buf)
		} else if err := d.readFile(s, buf, at); err != nil {
			return done, err
		}
		done += n
		i++
	}
	if done < want {
		return done, io.EOF
	}
	return done, nil
}

// readFile fills buf from disk offset at inside file segment s: changed
// areas over HTTP, the rest from base when there is one.
func (d *flatDisk) readFile(s layout.Segment, buf []byte, at int64) error {
	if d.base == nil {
		d.read.Add(int64(len(buf)))
		return d.files.readAt(d.ctx, s.File, buf, s.FileOff+at-s.Off)
	}
	for _, pc := range split(at, int64(len(buf)), d.changed) {
		b := buf[pc.Off-at : pc.Off-at+pc.Len]
		if pc.changed {
			d.read.Add(pc.Len)
			if err := d.files.readAt(d.ctx, s.File, b, s.FileOff+pc.Off-s.Off); err != nil {
				return err
			}
			continue
		}
		if n, err := d.base.ReadAt(b, pc.Off); n < len(b) {
			return fmt.Errorf("previous point at offset %d: %w", pc.Off, err)
		}
	}
	return nil
}

// piece is part of a read, inside or outside the changed areas.
type piece struct {
	image.Extent
	changed bool
}

// split cuts [off, off+n) at the borders of ext (sorted, non-overlapping).
func split(off, n int64, ext []image.Extent) []piece {
	var out []piece
	end := off + n
	i := sort.Search(len(ext), func(i int) bool { return ext[i].Off+ext[i].Len > off })
	for off < end {
		if i >= len(ext) || ext[i].Off >= end {
			out = append(out, piece{image.Extent{Off: off, Len: end - off}, false})
			break
		}
		e := ext[i]
		if e.Off > off {
			out = append(out, piece{image.Extent{Off: off, Len: e.Off - off}, false})
			off = e.Off
		}
		hi := min(end, e.Off+e.Len)
		out = append(out, piece{image.Extent{Off: off, Len: hi - off}, true})
		off = hi
		i++
	}
	return out
}
