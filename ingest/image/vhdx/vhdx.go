package vhdx

import (
	"errors"
	"fmt"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
)

// ParentOpener opens a differencing disk's parent: the first of names
// (as written in the image) that exists, in the given format. It returns
// the name it opened.
type ParentOpener func(names []string, format string) (vdisk.Disk, string, error)

// Limits of MS-VHDX, and of what a hostile image may ask for.
const (
	minBlockSize = 1 << 20
	maxBlockSize = 256 << 20
	maxDiskSize  = 64 << 40  // 64 TiB
	maxBATBytes  = 512 << 20 // 64 TiB of 1 MiB blocks
	bitmapBlock  = 1 << 20   // a sector bitmap block
	bitmapCache  = 8         // sector bitmap blocks kept per image
)

// Disk is an opened VHDX. Everything but the bitmap cache is fixed after
// Open, so reads are safe for concurrent use.
type Disk struct {
	name       string
	src        vdisk.SourceCloser
	hdr        Header
	regions    []RegionEntry
	params     FileParameters
	size       int64
	sector     int64 // logical sector size in bytes
	physical   int64
	blockSize  int64
	chunkRatio int64    // payload blocks per sector bitmap block
	bat        []uint64 // payload and sector bitmap entries, interleaved
	locator    ParentLocator
	parent     vdisk.Disk
	parentName string
	bitmaps    *vdisk.LRU[int64, []byte] // by chunk
}

var _ vdisk.Disk = (*Disk)(nil)

// Open reads the VHDX in src, named name in errors. openParent opens the
// parent of a differencing disk; nil refuses such disks. On success the
// Disk owns src.
func Open(src vdisk.SourceCloser, name string, openParent ParentOpener) (*Disk, error) {
	d := &Disk{name: name, src: src}
	steps := []func() error{d.readIdentifier, d.readHeaders, d.checkLog, d.readRegions, d.readMetadata, d.readBAT}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if d.params.HasParent {
		if err := d.openParent(openParent); err != nil {
			return nil, err
		}
	}
	d.bitmaps = vdisk.NewLRU[int64, []byte](bitmapCache)
	return d, nil
}

func (d *Disk) readIdentifier() error {
	if d.src.Size() < sectionEnd {
		return vdisk.Corruptf("vhdx %q: file of %d bytes is shorter than the 1 MiB header section", d.name, d.src.Size())
	}
	var b [8]byte
	if err := vdisk.ReadFull(d.src, b[:], 0, fmt.Sprintf("vhdx %q: file identifier", d.name)); err != nil {
		return err
	}
	if string(b[:]) != "vhdxfile" {
		return vdisk.Corruptf("vhdx %q: file identifier %q at offset 0, expected \"vhdxfile\"", d.name, b[:])
	}
	return nil
}

// readHeaders picks the valid header with the higher sequence number.
func (d *Disk) readHeaders() error {
	var errs []error
	found := false
	for _, off := range []int64{headerOff1, headerOff2} {
		h, err := d.headerAt(off)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !found || h.SequenceNumber > d.hdr.SequenceNumber {
			d.hdr, found = h, true
		}
	}
	if !found {
		return vdisk.Corruptf("vhdx %q: no valid header: %v", d.name, errors.Join(errs...))
	}
	return nil
}

func (d *Disk) headerAt(off int64) (Header, error) {
	b := make([]byte, headerLen)
	if err := vdisk.ReadFull(d.src, b, off, fmt.Sprintf("vhdx %q: header", d.name)); err != nil {
		return Header{}, err
	}
	h := parseHeader(b)
	switch {
	case h.Signature != sigHeader:
		return h, fmt.Errorf("header at offset %d has signature %q, expected \"head\"", off, b[:4])
	case crc32c(b) != h.Checksum:
		return h, fmt.Errorf("header at offset %d has CRC-32C %#08x, computed %#08x", off, h.Checksum, crc32c(b))
	case h.Version != 1 || h.LogVersion != 0:
		return h, fmt.Errorf("header at offset %d has version %d and log version %d, expected 1 and 0", off, h.Version, h.LogVersion)
	}
	return h, nil
}

// Format is "vhdx-fixed", "vhdx-dynamic" or "vhdx-differencing".
func (d *Disk) Format() string {
	switch {
	case d.params.HasParent:
		return "vhdx-differencing"
	case d.params.LeaveBlocksAllocated:
		return "vhdx-fixed"
	}
	return "vhdx-dynamic"
}

// Size is the virtual size in bytes.
func (d *Disk) Size() int64 { return d.size }

// LogicalSectorSize is 512 or 4096.
func (d *Disk) LogicalSectorSize() int64 { return d.sector }

// DataWriteGUID identifies the disk's data; a child records its parent's.
func (d *Disk) DataWriteGUID() GUID { return d.hdr.DataWriteGUID }

// Parent is the opened parent disk, or nil.
func (d *Disk) Parent() vdisk.Disk { return d.parent }

// Close closes the image and its parents.
func (d *Disk) Close() error {
	var errs []error
	if d.parent != nil {
		errs = append(errs, d.parent.Close())
	}
	errs = append(errs, d.src.Close())
	return errors.Join(errs...)
}
