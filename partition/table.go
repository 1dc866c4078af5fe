package partition

import (
	"cmp"
	"fmt"
	"io"
	"slices"
)

// Table is a decoded partition table.
type Table struct {
	Scheme     string // "mbr", "gpt", or "none" for a disk without a partition table
	SectorSize int    // logical sector size in bytes (512 or 4096)
	// DiskGUID is the GPT disk GUID (upper case), or for MBR the disk
	// signature as 8 lower-case hex digits (Linux's PTUUID); "" for "none".
	DiskGUID   string
	Partitions []Partition // in table order
	// HybridMBR holds, for a GPT disk whose MBR is hybrid, the MBR entries
	// other than the protective 0xEE one. Partitions still comes from the GPT.
	HybridMBR []Partition
	// Warnings lists problems that did not prevent reading the table, such
	// as a damaged primary GPT replaced by the backup, or a partition that
	// extends beyond the end of the disk (its Size is then cut at the end).
	Warnings []string
}

// Partition is one entry of a partition table.
type Partition struct {
	// Index numbers partitions as Linux does: MBR primaries 1-4 by slot,
	// logical partitions from 5 in chain order; GPT entry index + 1.
	Index int
	Start int64 // byte offset from the start of the disk
	Size  int64 // bytes
	// Type is "0x83" style for MBR, the type GUID (upper case) for GPT.
	Type     string
	TypeName string // human name for common types, "" if unknown
	Name     string // GPT partition name; "" for MBR
	// GUID is the GPT unique partition GUID, or for MBR Linux's PARTUUID
	// form "<disk signature>-<index as 2 hex digits>".
	GUID       string
	Bootable   bool   // MBR active flag, or GPT legacy BIOS bootable (attribute bit 2)
	Attributes uint64 // GPT attribute bits; MBR: the status byte
	// Extended marks an MBR extended partition: a container for the
	// logical partitions, not a filesystem.
	Extended bool
}

// Section returns a reader over the partition's bytes on disk r.
func (p Partition) Section(r io.ReaderAt) *io.SectionReader {
	return io.NewSectionReader(r, p.Start, p.Size)
}

// maxSectorSize bounds the sector sizes ReadSectorSize accepts.
const maxSectorSize = 64 << 10

// Read decodes the partition table of a disk of diskSize bytes. The sector
// size is detected: a GPT header at byte 512 means 512-byte sectors, one at
// byte 4096 means 4096-byte sectors; an MBR-only disk is taken as 512-byte.
// A disk with no table (for example a bare filesystem) gives Scheme "none".
func Read(r io.ReaderAt, diskSize int64) (*Table, error) {
	return read(r, diskSize, []int{512, 4096})
}

// ReadSectorSize is Read for a disk whose logical sector size is known, such
// as a 4Kn disk carrying an MBR.
func ReadSectorSize(r io.ReaderAt, diskSize int64, sectorSize int) (*Table, error) {
	if sectorSize < 512 || sectorSize > maxSectorSize || sectorSize&(sectorSize-1) != 0 {
		return nil, fmt.Errorf("partition: sector size %d is not a power of two in [512, %d]", sectorSize, maxSectorSize)
	}
	return read(r, diskSize, []int{sectorSize})
}

func read(r io.ReaderAt, diskSize int64, sizes []int) (*Table, error) {
	none := &Table{Scheme: "none", SectorSize: sizes[0]}
	if diskSize < mbrSize {
		return none, nil
	}
	b, err := readAt(r, 0, mbrSize, "MBR")
	if err != nil {
		return nil, err
	}
	mbr := decodeMBR(b)
	t, err := readGPT(r, diskSize, sizes, mbr)
	if err != nil {
		return nil, err
	}
	if t != nil {
		t.warnOverlaps()
		return t, nil
	}
	if !mbr.Magic || looksLikeBootSector(b) || !validStatus(mbr) {
		return none, nil
	}
	t, err = readMBR(r, diskSize, sizes[0], mbr)
	if err != nil {
		return nil, err
	}
	t.warnOverlaps()
	if hasSignature(r, diskSize, 512) || hasSignature(r, diskSize, 4096) {
		t.warnf("GPT header found but the MBR has no protective 0xEE entry; GPT ignored")
	}
	return t, nil
}

// readAt reads n bytes at off, naming what in the error.
func readAt(r io.ReaderAt, off int64, n int, what string) ([]byte, error) {
	b := make([]byte, n)
	got, err := r.ReadAt(b, off)
	if got == n {
		return b, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return nil, fmt.Errorf("read %s at byte %d (%d bytes): %w", what, off, n, err)
}

// clamp cuts a partition at the end of the disk and says so in t.Warnings.
func (t *Table) clamp(p *Partition, diskSize int64) {
	if p.Start >= diskSize {
		t.Warnings = append(t.Warnings, fmt.Sprintf("partition %d starts at byte %d, beyond the end of the disk (%d bytes); size set to 0", p.Index, p.Start, diskSize))
		p.Size = 0
		return
	}
	if p.Size > diskSize-p.Start {
		t.Warnings = append(t.Warnings, fmt.Sprintf("partition %d ends at byte %d, beyond the end of the disk (%d bytes); size cut to %d", p.Index, p.Start+p.Size, diskSize, diskSize-p.Start))
		p.Size = diskSize - p.Start
	}
}

// warnOverlaps notes partitions sharing bytes; MBR extended containers,
// which hold their logical partitions by design, are left out.
func (t *Table) warnOverlaps() {
	var ps []Partition
	for _, p := range t.Partitions {
		if !p.Extended && p.Size > 0 {
			ps = append(ps, p)
		}
	}
	slices.SortFunc(ps, func(a, b Partition) int { return cmp.Compare(a.Start, b.Start) })
	for i := 1; i < len(ps); i++ {
		if prev := ps[i-1]; ps[i].Start < prev.Start+prev.Size {
			t.warnf("partitions %d and %d overlap at byte %d", prev.Index, ps[i].Index, ps[i].Start)
		}
	}
}
