package vmdk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
)

// Opener opens a file named by an extent line, relative to the descriptor.
type Opener func(name string) (vdisk.SourceCloser, error)

// Disk is an opened VMDK: its extents laid end to end.
type Disk struct {
	format  string
	size    int64
	desc    *Descriptor
	parts   []part // by start
	closers []io.Closer
}

var _ vdisk.Disk = (*Disk)(nil)

// part is one extent placed at start in the virtual disk.
type part struct {
	start, len int64
	r          extentReader
}

// extentReader reads an extent; offsets are extent-relative and in range.
type extentReader interface {
	readAt(p []byte, off int64) error
	allocated() ([]vdisk.Extent, error)
}

// Open reads the VMDK whose first file is src: a text descriptor or a
// sparse extent with an embedded descriptor. open resolves
// the extent files a text descriptor names. On success the Disk owns src.
func Open(src vdisk.SourceCloser, name string, open Opener) (*Disk, error) {
	head := make([]byte, min(src.Size(), 4096))
	if err := vdisk.ReadFull(src, head, 0, fmt.Sprintf("vmdk %q: header", name)); err != nil {
		return nil, err
	}
	var (
		d   *Disk
		err error
	)
	switch {
	case len(head) >= 4 && string(head[:4]) == "KDMV":
		d, err = openSparse(src, name)
	case len(head) >= 4 && string(head[:4]) == "COWD":
		return nil, vdisk.Unsupportedf("vmdk %q: VMFS sparse (COWD) extents are not supported", name)
	case IsDescriptor(head):
		d, err = openDescriptor(src, name, open)
	default:
		return nil, vdisk.Corruptf("vmdk %q: neither a sparse header (KDMV) nor a text descriptor at offset 0", name)
	}
	if err != nil {
		return nil, err
	}
	d.closers = append(d.closers, src)
	return d, nil
}

// openSparse opens a monolithic sparse or stream-optimized file; its
// embedded descriptor, if any, names the create type and the parent.
func openSparse(src vdisk.SourceCloser, name string) (*Disk, error) {
	h, err := readSparseHeader(src, name)
	if err != nil {
		return nil, err
	}
	desc, err := readEmbeddedDescriptor(src, name, h)
	if err != nil {
		return nil, err
	}
	if desc == nil {
		// Like qemu-img, do not pass one extent off as the whole disk.
		return nil, vdisk.Unsupportedf("vmdk %q: sparse extent without an embedded descriptor, probably one extent of a multi-file disk; open its descriptor file instead", name)
	}
	if err := checkDescriptor(desc, name); err != nil {
		return nil, err
	}
	format := "vmdk-" + desc.CreateType
	e, err := newSparseExtent(src, name, h)
	if err != nil {
		return nil, err
	}
	return &Disk{format: format, size: e.size(), desc: desc, parts: []part{{0, e.size(), e}}}, nil
}

// readEmbeddedDescriptor reads the descriptor inside a sparse extent; it
// returns nil if there is none (extents of multi-file disks have an empty
// one).
func readEmbeddedDescriptor(src vdisk.Source, name string, h SparseExtentHeader) (*Descriptor, error) {
	if h.DescriptorOffset == 0 || h.DescriptorSize == 0 {
		return nil, nil
	}
	if h.DescriptorSize > MaxDescriptorSize/SectorSize || h.DescriptorOffset > uint64(src.Size())/SectorSize {
		return nil, vdisk.Corruptf("vmdk %q: embedded descriptor of %d sectors at sector %d does not fit a %d-byte file", name, h.DescriptorSize, h.DescriptorOffset, src.Size())
	}
	b := make([]byte, h.DescriptorSize*SectorSize)
	if err := vdisk.ReadFull(src, b, int64(h.DescriptorOffset)*SectorSize, fmt.Sprintf("vmdk %q: embedded descriptor", name)); err != nil {
		return nil, err
	}
	if len(bytes.Trim(b, "\x00 \t\r\n")) == 0 {
		return nil, nil
	}
	d, err := ParseDescriptor(b)
	if err != nil {
		return nil, fmt.Errorf("vmdk %q: embedded descriptor at sector %d: %w", name, h.DescriptorOffset, err)
	}
	return d, nil
}

// checkDescriptor refuses what this package does not read.
func checkDescriptor(d *Descriptor, name string) error {
	switch strings.ToLower(d.CreateType) {
	case "sesparse", "vsansparse", "vmfssparse", "vmfsrdm", "vmfsrdmp", "vmfsraw", "vmfsrawdevicemap", "vmfspassthroughrawdevicemap", "fulldevice", "partitioneddevice":
		return vdisk.Unsupportedf("vmdk %q: createType %q is not supported", name, d.CreateType)
	}
	if d.HasParent() {
		return vdisk.Unsupportedf("vmdk %q: delta disk (parentCID %08x, parent %q); parent chains are not supported, consolidate the snapshot first", name, d.ParentCID, d.ParentFileNameHint)
	}
	return nil
}

// openDescriptor reads a text descriptor and opens its extents.
func openDescriptor(src vdisk.Source, name string, open Opener) (_ *Disk, err error) {
	if src.Size() > MaxDescriptorSize {
		return nil, vdisk.Corruptf("vmdk %q: descriptor file of %d bytes, expected at most %d", name, src.Size(), MaxDescriptorSize)
	}
	b := make([]byte, src.Size())
	if err := vdisk.ReadFull(src, b, 0, fmt.Sprintf("vmdk %q: descriptor", name)); err != nil {
		return nil, err
	}
	desc, err := ParseDescriptor(b)
	if err != nil {
		return nil, fmt.Errorf("vmdk %q: %w", name, err)
	}
	if err := checkDescriptor(desc, name); err != nil {
		return nil, err
	}
	if len(desc.Extents) == 0 {
		return nil, vdisk.Corruptf("vmdk %q: descriptor lists no extents", name)
	}
	d := &Disk{format: "vmdk-" + desc.CreateType, desc: desc}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	for i, x := range desc.Extents {
		r, err := d.openExtent(x, name, open)
		if err != nil {
			return nil, fmt.Errorf("vmdk %q: extent %d (%s %q): %w", name, i+1, x.Type, x.File, err)
		}
		n := x.Sectors * SectorSize
		if d.size > vdisk.MaxSize-n {
			return nil, vdisk.Corruptf("vmdk %q: extents add up to more than %d bytes", name, int64(vdisk.MaxSize))
		}
		if n > 0 {
			d.parts = append(d.parts, part{d.size, n, r})
		}
		d.size += n
	}
	return d, nil
}

func (d *Disk) openExtent(x ExtentDesc, name string, open Opener) (extentReader, error) {
	if x.Access == "NOACCESS" {
		return nil, vdisk.Unsupportedf("NOACCESS extent")
	}
	switch x.Type {
	case "ZERO":
		return zeroExtent{}, nil
	case "FLAT", "VMFS", "SPARSE":
	default:
		return nil, vdisk.Unsupportedf("extent type %s is not supported", x.Type)
	}
	if open == nil {
		return nil, vdisk.Unsupportedf("no way to open extent files here")
	}
	f, err := open(x.File)
	if err != nil {
		return nil, err
	}
	d.closers = append(d.closers, f)
	if x.Type == "SPARSE" {
		h, err := readSparseHeader(f, x.File)
		if err != nil {
			return nil, err
		}
		e, err := newSparseExtent(f, x.File, h)
		if err != nil {
			return nil, err
		}
		return sizedExtent{e, e.size()}, nil
	}
	end := (x.Offset + x.Sectors) * SectorSize
	if end > f.Size() {
		return nil, vdisk.Corruptf("flat extent needs bytes up to %d (offset %d sectors + %d sectors), file has %d", end, x.Offset, x.Sectors, f.Size())
	}
	return flatExtent{f, x.Offset * SectorSize, x.File}, nil
}

// Format is "vmdk-" and the descriptor's createType.
func (d *Disk) Format() string { return d.format }

// Size is the virtual size in bytes.
func (d *Disk) Size() int64 { return d.size }

// Descriptor is the parsed descriptor (embedded or text).
func (d *Disk) Descriptor() *Descriptor { return d.desc }

// Close closes every file of the disk.
func (d *Disk) Close() error {
	var errs []error
	for _, c := range d.closers {
		errs = append(errs, c.Close())
	}
	d.closers = nil
	return errors.Join(errs...)
}

// ReadAt reads the virtual disk; it is safe for concurrent use.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) {
	q, eof := vdisk.ClampRead(p, off, d.size)
	if len(q) == 0 {
		return 0, eof
	}
	i := sort.Search(len(d.parts), func(i int) bool { return d.parts[i].start+d.parts[i].len > off })
	done := 0
	for done < len(q) && i < len(d.parts) {
		pt := d.parts[i]
		in := off + int64(done) - pt.start
		n := int(min(int64(len(q)-done), pt.len-in))
		if err := pt.r.readAt(q[done:done+n], in); err != nil {
			return done, fmt.Errorf("vmdk: read at virtual offset %d: %w", off+int64(done), err)
		}
		done += n
		i++
	}
	return done, eof
}

// Allocated lists the ranges that may hold data, from the grain tables of
// sparse extents and the holes of flat extent files.
func (d *Disk) Allocated() ([]vdisk.Extent, error) {
	var out []vdisk.Extent
	for _, pt := range d.parts {
		ext, err := pt.r.allocated()
		if err != nil {
			return nil, fmt.Errorf("vmdk: allocation of extent at virtual offset %d: %w", pt.start, err)
		}
		out = vdisk.Shift(out, vdisk.Clip(ext, pt.len), pt.start)
	}
	return vdisk.Coalesce(out), nil
}

// zeroExtent is a ZERO extent line.
type zeroExtent struct{}

func (zeroExtent) readAt(p []byte, _ int64) error     { clear(p); return nil }
func (zeroExtent) allocated() ([]vdisk.Extent, error) { return nil, nil }

// flatExtent is a FLAT or VMFS extent: bytes of a file from base on.
type flatExtent struct {
	src  vdisk.Source
	base int64
	name string
}

func (f flatExtent) readAt(p []byte, off int64) error {
	return vdisk.ReadFull(f.src, p, f.base+off, fmt.Sprintf("vmdk flat extent %q", f.name))
}

func (f flatExtent) allocated() ([]vdisk.Extent, error) {
	n := f.src.Size() - f.base
	if dr, ok := f.src.(vdisk.DataRanger); ok {
		ext, err := dr.DataExtents(f.base, n)
		if err != nil {
			return nil, err
		}
		return vdisk.Shift(nil, ext, -f.base), nil
	}
	return []vdisk.Extent{{Off: 0, Len: n}}, nil
}

// sizedExtent is a sparse extent placed in a descriptor extent of the
// given size: sectors beyond the sparse capacity read as zeros.
type sizedExtent struct {
	e   *sparseExtent
	cap int64
}

func (s sizedExtent) readAt(p []byte, off int64) error {
	if off >= s.cap {
		clear(p)
		return nil
	}
	n := min(int64(len(p)), s.cap-off)
	clear(p[n:])
	return s.e.readAt(p[:n], off)
}

func (s sizedExtent) allocated() ([]vdisk.Extent, error) { return s.e.allocated() }
