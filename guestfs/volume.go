package guestfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/vmarchive/vmarchive/ext4"
	"github.com/vmarchive/vmarchive/fat"
	"github.com/vmarchive/vmarchive/ntfs"
	"github.com/vmarchive/vmarchive/partition"
	"github.com/vmarchive/vmarchive/xfs"
)

// ErrUnknownFS means a volume holds no filesystem this package reads.
var ErrUnknownFS = errors.New("no known filesystem")

// Volume is one place a filesystem can live: a partition, an LVM logical
// volume, or a whole unpartitioned disk.
type Volume struct {
	// Name is the volume's name in the mounted tree: "p2" for partition 2,
	// "fs" for an unpartitioned disk, "lvm/<vg>/<lv>" for a logical volume.
	Name   string
	Size   int64
	Offset int64 // byte offset on the disk; -1 for a logical volume
	// Layout places the volume's bytes on the disk, in volume order: one
	// piece for a partition, one per segment for a logical volume, one per
	// run of mapped chunks for a thin LV (none where its pool maps
	// nothing: those bytes read as zeros). Nil when unknown.
	Layout    []Piece
	Partition *partition.Partition
	Reader    io.ReaderAt
	// Kind is what the volume holds: "ext4" (any ext2/3/4), "ntfs", "vfat", "xfs",
	// "lvm2" (a physical volume), "" when unknown.
	Kind  string
	Label string
	// FS is the open filesystem; nil when there is none, and then Err says why.
	FS  FS
	Err error
}

// Piece says that volume bytes [Off, Off+Len) are disk bytes from DiskOff.
type Piece struct {
	Off, Len, DiskOff int64
}

// Disk is what a disk image holds.
type Disk struct {
	Table    *partition.Table
	Volumes  []*Volume
	Warnings []string
}

// Options pass reader options through.
type Options struct {
	Ext4 *ext4.Options
	NTFS *ntfs.Options
	FAT  *fat.Options
	XFS  *xfs.Options
}

// OpenDisk reads the partition table of a disk and opens the filesystem
// of every volume it finds. Only an unreadable disk is an error: a volume
// whose filesystem is unknown or damaged is listed with Err set. A table
// with no usable entry gets the whole disk probed too (see probeWholeDisk).
func OpenDisk(r io.ReaderAt, size int64, opts *Options) (*Disk, error) {
	if opts == nil {
		opts = &Options{}
	}
	t, err := partition.Read(r, size)
	if err != nil {
		return nil, fmt.Errorf("partition table: %w", err)
	}
	d := &Disk{Table: t, Warnings: append([]string(nil), t.Warnings...)}
	switch {
	case t.Scheme == "none":
		d.Volumes = append(d.Volumes, wholeDisk(r, size, opts))
	case !hasUsable(t):
		d.probeWholeDisk(r, size, opts)
	}
	for i := range t.Partitions {
		p := &t.Partitions[i]
		if p.Extended {
			continue // a container of logical partitions, listed themselves
		}
		v := &Volume{Name: "p" + strconv.Itoa(p.Index), Size: p.Size, Offset: p.Start, Partition: p, Reader: p.Section(r),
			Layout: []Piece{{0, p.Size, p.Start}}}
		d.Volumes = append(d.Volumes, openVolume(v, opts))
	}
	d.addLVM(opts)
	for _, v := range d.Volumes {
		if w, ok := v.FS.(Warner); ok {
			for _, s := range w.Warnings() {
				d.Warnings = append(d.Warnings, fmt.Sprintf("%s: %s: %s", v.Name, v.Kind, s))
			}
		}
	}
	return d, nil
}

func wholeDisk(r io.ReaderAt, size int64, opts *Options) *Volume {
	return openVolume(&Volume{Name: "fs", Size: size, Reader: r, Layout: []Piece{{0, size, 0}}}, opts)
}

// hasUsable reports whether a table names any partition that can hold a
// filesystem: not an extended container, not empty.
func hasUsable(t *partition.Table) bool {
	for _, p := range t.Partitions {
		if !p.Extended && p.Size > 0 {
			return true
		}
	}
	return false
}

// probeWholeDisk looks for a filesystem on the whole disk when its table
// names no usable partition, as blkid, the kernel and e2fsck do: mkfs on a
// whole disk that once had an MBR, or an ext2 image whose boot block ends
// in 0x55AA, keeps an empty table in sector 0. The decision goes to
// Warnings, which volumes.txt shows.
func (d *Disk) probeWholeDisk(r io.ReaderAt, size int64, opts *Options) {
	v := wholeDisk(r, size, opts)
	what := strings.ToUpper(d.Table.Scheme) + " partition table has no usable entry"
	if v.Kind == "" {
		d.Warnings = append(d.Warnings, what+", and the whole disk holds no known filesystem")
		return
	}
	d.Warnings = append(d.Warnings, fmt.Sprintf("%s; the whole disk holds %s, shown as %s", what, v.Kind, v.Name))
	d.Volumes = append(d.Volumes, v)
}

// addLVM exposes the logical volumes of the physical volumes found.
func (d *Disk) addLVM(opts *Options) {
	var pvs []*io.SectionReader
	var pvVols []*Volume
	for _, v := range d.Volumes {
		if v.Kind == "lvm2" {
			pvs = append(pvs, io.NewSectionReader(v.Reader, 0, v.Size))
			pvVols = append(pvVols, v)
		}
	}
	if len(pvs) == 0 {
		return
	}
	vgs, err := partition.ScanLVM(pvs)
	if err != nil {
		d.Warnings = append(d.Warnings, fmt.Sprintf("LVM: %v", err))
	}
	for _, vg := range vgs {
		d.Warnings = append(d.Warnings, vg.Warnings...)
		for _, lv := range vg.LVs {
			if !lv.Visible || isThinPool(lv) {
				continue
			}
			v := &Volume{Name: "lvm/" + vg.Name + "/" + lv.Name, Size: lv.Size, Offset: -1}
			sr, err := vg.Open(lv.Name)
			if err != nil {
				v.Err = err
				d.Volumes = append(d.Volumes, v)
				continue
			}
			v.Reader = sr
			if pieces, err := vg.Layout(lv.Name); err == nil {
				for _, p := range pieces {
					v.Layout = append(v.Layout, Piece{p.Offset, p.Length, pvVols[p.Device].Offset + p.DeviceOffset})
				}
			}
			d.Volumes = append(d.Volumes, openVolume(v, opts))
		}
	}
}

// isThinPool reports whether lv is a thin pool: visible in LVM, but a
// container of thin LVs rather than a volume.
func isThinPool(lv partition.LogicalVolume) bool {
	return len(lv.Segments) == 1 && lv.Segments[0].Type == "thin-pool"
}

// openVolume detects the volume's filesystem and opens it.
func openVolume(v *Volume, opts *Options) *Volume {
	head := make([]byte, 4096)
	n, err := v.Reader.ReadAt(head, 0)
	if n < len(head) && err != nil && err != io.EOF {
		v.Err = fmt.Errorf("%s: read first block: %w", v.Name, err)
		return v
	}
	head = head[:n]
	v.Kind = detect(head)
	switch v.Kind {
	case "ext4":
		fs, err := ext4.Open(v.Reader, v.Size, opts.Ext4)
		if err == nil {
			v.FS, v.Label = newExt4(fs), fs.Info().Label
		}
		v.Err = err
	case "ntfs":
		fs, err := ntfs.Open(v.Reader, v.Size, opts.NTFS)
		if err == nil {
			v.FS, v.Label = newNTFS(fs), fs.Info().Label
		}
		v.Err = err
	case "vfat":
		fs, err := fat.Open(v.Reader, v.Size, opts.FAT)
		if err == nil {
			v.FS, v.Label = newFAT(fs), fs.Info().Label
		}
		v.Err = err
	case "xfs":
		fs, err := xfs.Open(v.Reader, v.Size, opts.XFS)
		if err == nil {
			v.FS, v.Label = newXFS(fs), fs.Info().Label
		}
		v.Err = err
	case "lvm2":
		v.Err = fmt.Errorf("LVM physical volume: its logical volumes are listed under lvm/")
	default:
		v.Err = ErrUnknownFS
	}
	if v.Err != nil && v.Kind != "" {
		v.Err = fmt.Errorf("%s: %s: %w", v.Name, v.Kind, v.Err)
	}
	return v
}

// detect names the filesystem by its magic numbers.
func detect(b []byte) string {
	switch {
	case len(b) >= 1024+58 && binary.LittleEndian.Uint16(b[1024+56:]) == 0xEF53:
		return "ext4"
	case len(b) >= 4 && string(b[:4]) == "XFSB":
		return "xfs"
	case len(b) >= 11 && string(b[3:11]) == "NTFS    ":
		return "ntfs"
	case isLVM(b):
		return "lvm2"
	case isFAT(b):
		return "vfat"
	}
	return ""
}

func isLVM(b []byte) bool {
	for s := 0; s+512 <= len(b) && s < 4*512; s += 512 {
		if string(b[s:s+8]) == "LABELONE" && string(b[s+24:s+32]) == "LVM2 001" {
			return true
		}
	}
	return false
}

// isFAT checks a boot sector with a FAT BPB: a jump, sane geometry and the
// 0x55AA signature (as blkid's vfat probe does, without trusting labels).
func isFAT(b []byte) bool {
	if len(b) < 512 || b[510] != 0x55 || b[511] != 0xAA || (b[0] != 0xEB && b[0] != 0xE9) {
		return false
	}
	bps := binary.LittleEndian.Uint16(b[11:])
	spc := b[13]
	fats := b[16]
	ok := bps >= 512 && bps <= 4096 && bps&(bps-1) == 0 && spc != 0 && spc&(spc-1) == 0 && fats >= 1 && fats <= 2
	return ok && (bytes.Equal(b[54:57], []byte("FAT")) || bytes.Equal(b[82:85], []byte("FAT")) || binary.LittleEndian.Uint16(b[14:]) > 0)
}
