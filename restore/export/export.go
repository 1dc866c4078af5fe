package export

import (
	"context"
	"fmt"
	"io"
	"sort"
)

// Extent is a range of the disk: data, or a hole of zeros.
type Extent struct {
	Off, Len int64
	Data     bool
}

// End is the offset just past e.
func (e Extent) End() int64 { return e.Off + e.Len }

// Source is the disk to export.
type Source interface {
	Size() int64
	// Layout calls fn for every extent in disk order without reading data.
	Layout(ctx context.Context, fn func(Extent) error) error
	// Stream calls fn for every extent in disk order with its bytes (nil
	// for a hole); b is fn's only until it returns.
	Stream(ctx context.Context, fn func(e Extent, b []byte) error) error
}

// Options tune an export.
type Options struct {
	// Name is the disk's name as the image records it (the VMDK's extent
	// line); "disk" when empty.
	Name string
	// Progress, if set, is called from one goroutine with the bytes of
	// disk done so far.
	Progress func(done int64)
}

// writer writes one format from src to s.
type writer func(ctx context.Context, s *sink, src Source, o Options) error

var formats = map[string]writer{
	"raw":   writeRaw,
	"qcow2": writeQcow2,
	"vmdk":  writeVMDK,
	"vhdx":  writeVHDX,
}

// Formats lists the formats Write knows.
func Formats() []string {
	var names []string
	for n := range formats {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Write writes src as an image of format to w. When w is a regular file
// (an *os.File not opened for appending) runs of zeros become seeks and
// the file is truncated to its end, so it is sparse.
func Write(ctx context.Context, w io.Writer, src Source, format string, o Options) error {
	wf, ok := formats[format]
	if !ok {
		return fmt.Errorf("format %q: expected one of %v", format, Formats())
	}
	if o.Name == "" {
		o.Name = "disk"
	}
	if o.Progress != nil {
		src = progressSource{src, o.Progress}
	}
	s, err := newSink(w)
	if err != nil {
		return err
	}
	if err := wf(ctx, s, src, o); err != nil {
		return err
	}
	return s.finish()
}

// sectorSize is the sector size VMDK and VHDX sizes count in.
const sectorSize = 512

// needSectors refuses a disk that is not whole sectors, which the
// format cannot describe.
func needSectors(format string, size int64) error {
	if size%sectorSize != 0 {
		return fmt.Errorf("%s holds whole 512-byte sectors; this disk has %d bytes (export it as raw or qcow2)", format, size)
	}
	return nil
}

// progressSource reports the end of each extent streamed.
type progressSource struct {
	Source
	progress func(int64)
}

func (p progressSource) Stream(ctx context.Context, fn func(Extent, []byte) error) error {
	return p.Source.Stream(ctx, func(e Extent, b []byte) error {
		err := fn(e, b)
		p.progress(e.End())
		return err
	})
}
