package partition

import (
	"encoding/binary"
	"fmt"
	"io"
)

// maxLogical bounds the logical partitions followed in one EBR chain; Linux
// stops far earlier (256 minors), and every EBR costs a read.
const maxLogical = 4096

// validStatus reports whether every status byte is 0x00 or 0x80. Linux uses
// the same test to tell a partition table from a filesystem boot sector.
func validStatus(m mbrSector) bool {
	for _, e := range m.Entries {
		if e.Status&mbrStatusInvalid != 0 {
			return false
		}
	}
	return true
}

// looksLikeBootSector reports whether sector 0 is the boot sector of a
// filesystem spanning the whole disk (NTFS, exFAT or FAT with a BIOS
// parameter block), which also ends in 0x55AA.
func looksLikeBootSector(b []byte) bool {
	oem := string(b[3:11])
	if oem == "NTFS    " || oem == "EXFAT   " {
		return true
	}
	if b[0] != 0xEB && b[0] != 0xE9 {
		return false
	}
	bps := binary.LittleEndian.Uint16(b[11:])
	spc := b[13]
	reserved := binary.LittleEndian.Uint16(b[14:])
	fats := b[16]
	media := b[21]
	return bps >= 512 && bps <= 4096 && bps&(bps-1) == 0 &&
		spc != 0 && spc&(spc-1) == 0 && reserved != 0 &&
		(fats == 1 || fats == 2) && (media == 0xF0 || media >= 0xF8)
}

// readMBR builds the table of an MBR disk, following extended partitions.
func readMBR(r io.ReaderAt, diskSize int64, ss int, m mbrSector) (*Table, error) {
	t := &Table{Scheme: "mbr", SectorSize: ss, DiskGUID: fmt.Sprintf("%08x", m.DiskSignature)}
	next := 5
	for i, e := range m.Entries {
		if e.Sectors == 0 {
			continue // Linux treats a zero-length slot as unused
		}
		p := mbrPartition(m.DiskSignature, i+1, e, int64(e.StartLBA)*int64(ss), int64(e.Sectors)*int64(ss))
		t.clamp(&p, diskSize)
		t.Partitions = append(t.Partitions, p)
		if p.Extended {
			var err error
			next, err = t.readLogical(r, diskSize, ss, m.DiskSignature, p, next)
			if err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}

// mbrPartition converts an entry whose byte range is already known.
func mbrPartition(sig uint32, index int, e mbrEntry, start, size int64) Partition {
	return Partition{
		Index:      index,
		Start:      start,
		Size:       size,
		Type:       fmt.Sprintf("0x%02x", e.Type),
		TypeName:   mbrTypeName(e.Type),
		GUID:       fmt.Sprintf("%08x-%02x", sig, index),
		Bootable:   e.Status == mbrStatusActive,
		Attributes: uint64(e.Status),
		Extended:   isExtendedType(e.Type),
	}
}

// readLogical walks the EBR chain of extended partition ext the way Linux's
// parse_extended does, numbering logical partitions from next. It returns the
// next free number. A chain that loops, leaves the extended partition or
// lacks a signature ends with a warning, keeping what was found before.
func (t *Table) readLogical(r io.ReaderAt, diskSize int64, ss int, sig uint32, ext Partition, next int) (int, error) {
	first := ext.Start / int64(ss) // sectors
	extEnd := first + ext.Size/int64(ss)
	this, thisSize := first, ext.Size/int64(ss)
	seen := make(map[int64]bool)
	for n := 0; ; n++ {
		off := this * int64(ss)
		switch {
		case seen[this]:
			t.warnf("EBR chain of partition %d loops back to the EBR at byte %d; chain cut", ext.Index, off)
			return next, nil
		case n >= maxLogical || next-5 >= maxLogical:
			t.warnf("EBR chain of partition %d longer than %d; chain cut at byte %d", ext.Index, maxLogical, off)
			return next, nil
		case this < first || this >= extEnd || off+mbrSize > diskSize:
			t.warnf("EBR at byte %d is outside extended partition %d or the disk; chain cut", off, ext.Index)
			return next, nil
		}
		seen[this] = true
		b, err := readAt(r, off, mbrSize, "EBR")
		if err != nil {
			return next, err
		}
		ebr := decodeMBR(b)
		if !ebr.Magic {
			t.warnf("EBR at byte %d has no 0x55AA signature; chain cut", off)
			return next, nil
		}
		next = t.addLogical(ebr, diskSize, ss, sig, this, thisSize, first, extEnd, next)
		link, ok := firstExtended(ebr)
		if !ok {
			return next, nil
		}
		this, thisSize = first+int64(link.StartLBA), int64(link.Sectors)
	}
}

// addLogical adds the data partitions of one EBR at sector this. Like Linux,
// it ignores entries 3 and 4 when they do not fit, as they often hold junk.
func (t *Table) addLogical(ebr mbrSector, diskSize int64, ss int, sig uint32, this, thisSize, first, extEnd int64, next int) int {
	for i, e := range ebr.Entries {
		if e.Sectors == 0 || isExtendedType(e.Type) {
			continue
		}
		start, size := this+int64(e.StartLBA), int64(e.Sectors)
		if i >= 2 && (int64(e.StartLBA)+size > thisSize || start+size > extEnd) {
			continue
		}
		p := mbrPartition(sig, next, e, start*int64(ss), size*int64(ss))
		if start+size > extEnd {
			t.warnf("logical partition %d (EBR at byte %d) ends at byte %d, beyond its extended partition ending at byte %d", next, this*int64(ss), (start+size)*int64(ss), extEnd*int64(ss))
		}
		t.clamp(&p, diskSize)
		t.Partitions = append(t.Partitions, p)
		next++
	}
	return next
}

// firstExtended returns the first non-empty extended entry of an EBR: the
// link to the next EBR, relative to the start of the extended partition.
func firstExtended(m mbrSector) (mbrEntry, bool) {
	for _, e := range m.Entries {
		if e.Sectors != 0 && isExtendedType(e.Type) {
			return e, true
		}
	}
	return mbrEntry{}, false
}

func (t *Table) warnf(format string, args ...any) {
	t.Warnings = append(t.Warnings, fmt.Sprintf(format, args...))
}
