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
	ra    *readahead       // nil: one range request per read
	read  atomic.Int64     // bytes fetched over HTTP
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

// readFile fills buf from disk offset at inside file segment s.
func (d *flatDisk) readFile(s layout.Segment, buf []byte, at int64) error {
	if d.ra != nil {
		return d.ra.read(s, buf, at)
	}
	d.read.Add(int64(len(buf)))
	return d.files.readAt(d.ctx, s.File, buf, s.FileOff+at-s.Off)
}

// readAhead makes reads follow plan, the areas the pipeline will ask for
// in order (in chunks of cs bytes), fetched in windows of up to size
// bytes, streams at a time.
func (d *flatDisk) readAhead(plan []image.Extent, streams int, size, cs int64) {
	d.ra = newReadahead(d.ctx, d.files, d.segs, plan, streams, size, cs, func(n int64) { d.read.Add(n) })
}

// close stops reading ahead.
func (d *flatDisk) close() {
	if d.ra != nil {
		d.ra.close()
	}
}
