package vhd

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
)

// ParentOpener opens a differencing disk's parent: the first of names
// (as written in the image) that exists, in the given format. It returns
// the name it opened.
type ParentOpener func(names []string, format string) (vdisk.Disk, string, error)

// Limits that keep a hostile header from asking for absurd work.
const (
	maxBlockSize  = 1 << 28  // 256 MiB; real disks use 512 KiB or 2 MiB
	maxBATBytes   = 64 << 20 // 16M blocks: 32 TiB of 2 MiB blocks
	maxLocatorLen = 4096     // bytes of one parent path
	bitmapCache   = 8 << 20  // bytes of sector bitmaps kept per image
)

const unallocated = 0xffffffff

// Disk is an opened VHD. Everything but the bitmap cache is fixed after
// Open, so reads are safe for concurrent use.
type Disk struct {
	name   string
	src    vdisk.SourceCloser
	footer Footer
	size   int64

	// Dynamic and differencing disks only.
	hdr        Header
	blockSize  int64
	bitmapLen  int64    // bytes before each block's data: the sector bitmap, padded to sectors
	bat        []uint32 // sector offsets of the blocks covering size
	parent     vdisk.Disk
	parentName string
	bitmaps    *vdisk.LRU[int64, []byte] // by block index
}

var _ vdisk.Disk = (*Disk)(nil)

// Open reads the VHD in src, named name in errors. openParent opens the
// parent of a differencing disk; nil refuses such disks. On success the
// Disk owns src.
func Open(src vdisk.SourceCloser, name string, openParent ParentOpener) (*Disk, error) {
	d := &Disk{name: name, src: src}
	f, err := d.readFooter()
	if err != nil {
		return nil, err
	}
	d.footer = f
	vs := f.virtualSize()
	if vs > vdisk.MaxSize {
		return nil, vdisk.Corruptf("vhd %q: virtual size %d bytes, expected at most %d", name, vs, int64(vdisk.MaxSize))
	}
	d.size = int64(vs)
	switch f.DiskType {
	case typeFixed:
		if d.size > src.Size()-footerLen {
			return nil, vdisk.Corruptf("vhd %q: fixed disk of %d bytes, but the file holds only %d bytes before its footer", name, d.size, src.Size()-footerLen)
		}
		return d, nil
	case typeDynamic, typeDifferencing:
	default:
		return nil, vdisk.Unsupportedf("vhd %q: disk type %d in the footer, expected 2 (fixed), 3 (dynamic) or 4 (differencing)", name, f.DiskType)
	}
	if err := d.openDynamic(); err != nil {
		return nil, err
	}
	if f.DiskType == typeDifferencing {
		if err := d.openParent(openParent); err != nil {
			return nil, err
		}
	}
	d.bitmaps = vdisk.NewLRU[int64, []byte](max(16, int(bitmapCache/d.bitmapLen)))
	return d, nil
}

// readFooter returns the footer at the end of the file, or its copy at
// offset 0 when the end is damaged (dynamic and differencing disks).
func (d *Disk) readFooter() (Footer, error) {
	size := d.src.Size()
	if size < footerLen {
		return Footer{}, vdisk.Corruptf("vhd %q: file of %d bytes is shorter than a footer (%d)", d.name, size, footerLen)
	}
	tail, terr := d.footerAt(size - footerLen)
	if terr == nil {
		return tail, nil
	}
	if size >= footerLen+headerLen {
		if head, err := d.footerAt(0); err == nil && head.DiskType != typeFixed {
			return head, nil
		}
	}
	return Footer{}, terr
}

// footerAt reads and checks one footer copy.
func (d *Disk) footerAt(off int64) (Footer, error) {
	b := make([]byte, footerLen)
	if err := vdisk.ReadFull(d.src, b, off, fmt.Sprintf("vhd %q: footer", d.name)); err != nil {
		return Footer{}, err
	}
	f := parseFooter(b)
	if string(f.Cookie[:]) != "conectix" {
		return f, vdisk.Corruptf("vhd %q: footer at offset %d has cookie %q, expected \"conectix\"", d.name, off, f.Cookie[:])
	}
	if sum := checksum(b, 64); sum != f.Checksum {
		return f, vdisk.Corruptf("vhd %q: footer at offset %d has checksum %#08x, computed %#08x", d.name, off, f.Checksum, sum)
	}
	return f, nil
}

// openDynamic reads the dynamic disk header and the BAT.
func (d *Disk) openDynamic() error {
	off := d.footer.DataOffset
	if off > uint64(d.src.Size()) || uint64(d.src.Size())-off < headerLen {
		return vdisk.Corruptf("vhd %q: dynamic disk header at offset %d (footer data offset) lies outside the %d-byte file", d.name, off, d.src.Size())
	}
	b := make([]byte, headerLen)
	if err := vdisk.ReadFull(d.src, b, int64(off), fmt.Sprintf("vhd %q: dynamic disk header", d.name)); err != nil {
		return err
	}
	h := parseHeader(b)
	if err := d.checkHeader(h, b, int64(off)); err != nil {
		return err
	}
	d.hdr = h
	d.blockSize = int64(h.BlockSize)
	d.bitmapLen = (d.blockSize/512/8 + 511) &^ 511
	return d.readBAT()
}

func (d *Disk) checkHeader(h Header, b []byte, off int64) error {
	bs := uint64(h.BlockSize)
	switch {
	case string(h.Cookie[:]) != "cxsparse":
		return vdisk.Corruptf("vhd %q: dynamic disk header at offset %d has cookie %q, expected \"cxsparse\"", d.name, off, h.Cookie[:])
	case checksum(b, 36) != h.Checksum:
		return vdisk.Corruptf("vhd %q: dynamic disk header at offset %d has checksum %#08x, computed %#08x", d.name, off, h.Checksum, checksum(b, 36))
	case bs < 512 || bs > maxBlockSize || bs&(bs-1) != 0:
		return vdisk.Corruptf("vhd %q: block size %d at offset %d, expected a power of two from 512 to %d", d.name, bs, off+32, maxBlockSize)
	case uint64(h.MaxTableEntries)*bs < uint64(d.size):
		return vdisk.Corruptf("vhd %q: %d BAT entries of %d-byte blocks cannot hold a virtual size of %d bytes", d.name, h.MaxTableEntries, bs, d.size)
	}
	return nil
}

// readBAT loads the BAT entries of the blocks that cover the virtual
// size and checks that every allocated block lies inside the file.
func (d *Disk) readBAT() error {
	n := (d.size + d.blockSize - 1) / d.blockSize
	if n*4 > maxBATBytes {
		return vdisk.Unsupportedf("vhd %q: BAT of %d entries exceeds %d bytes", d.name, n, maxBATBytes)
	}
	off := d.hdr.TableOffset
	if off > uint64(d.src.Size()) || uint64(n*4) > uint64(d.src.Size())-off {
		return vdisk.Corruptf("vhd %q: BAT of %d entries at offset %d lies outside the %d-byte file", d.name, n, off, d.src.Size())
	}
	b := make([]byte, n*4)
	if err := vdisk.ReadFull(d.src, b, int64(off), fmt.Sprintf("vhd %q: BAT", d.name)); err != nil {
		return err
	}
	d.bat = make([]uint32, n)
	last := d.src.Size() - d.bitmapLen - d.blockSize
	for i := range d.bat {
		e := binary.BigEndian.Uint32(b[4*i:])
		d.bat[i] = e
		if e != unallocated && int64(e)*512 > last {
			return vdisk.Corruptf("vhd %q: BAT entry %d puts block %d at sector %d, past the end of the %d-byte file", d.name, i, i, e, d.src.Size())
		}
	}
	if i, j, dup := vdisk.FirstDuplicate(allocatedOnly(d.bat)); dup {
		return vdisk.Corruptf("vhd %q: BAT entries %d and %d both point to sector %d", d.name, i, j, d.bat[i])
	}
	return nil
}

// allocatedOnly maps unallocated entries to 0 for FirstDuplicate.
func allocatedOnly(bat []uint32) []uint32 {
	out := make([]uint32, len(bat))
	for i, e := range bat {
		if e != unallocated {
			out[i] = e + 1 // sector 0 holds the footer copy, but keep it distinct from 0
		}
	}
	return out
}

// Format is "vhd-fixed", "vhd-dynamic" or "vhd-differencing".
func (d *Disk) Format() string {
	switch d.footer.DiskType {
	case typeFixed:
		return "vhd-fixed"
	case typeDynamic:
		return "vhd-dynamic"
	}
	return "vhd-differencing"
}

// Size is the virtual size in bytes.
func (d *Disk) Size() int64 { return d.size }

// UniqueID is the footer's unique id, which a child records of its parent.
func (d *Disk) UniqueID() [16]byte { return d.footer.UniqueID }

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
