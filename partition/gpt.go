package partition

import (
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// maxGPTArray bounds the entry array read, whatever the header claims. The
// usual array is 16 KiB (128 entries); 8 MiB is 65536 entries of 128 bytes.
const maxGPTArray = 8 << 20

// gpt is one validated copy of the GPT: a header and its entry array.
type gpt struct {
	hdr     gptHeader
	entries []byte // NumEntries*EntrySize bytes, CRC checked
}

// readGPT looks for a GPT with each candidate sector size, primary header
// first. It returns nil, nil when there is no GPT and no protective MBR.
func readGPT(r io.ReaderAt, diskSize int64, sizes []int, mbr mbrSector) (*Table, error) {
	protective := hasProtective(mbr)
	if !protective && mbr.Magic && validStatus(mbr) && hasEntries(mbr) {
		return nil, nil // an MBR in use wins over a stale GPT, as in Linux
	}
	var ss int
	for _, s := range sizes {
		if hasSignature(r, diskSize, int64(s)) || hasSignature(r, diskSize, diskSize/int64(s)*int64(s)-int64(s)) {
			ss = s
			break
		}
	}
	if ss == 0 {
		if protective {
			return nil, corruptf("MBR at byte 0 has a protective 0xEE entry but no GPT header was found at LBA 1 or the last LBA")
		}
		return nil, nil
	}
	t := &Table{Scheme: "gpt", SectorSize: ss}
	g, err := t.pickGPT(r, diskSize, ss)
	if err != nil {
		return nil, err
	}
	if !mbr.Magic || !protective {
		t.warnf("GPT without a protective MBR (no 0xEE entry in sector 0)")
	}
	t.DiskGUID = g.hdr.DiskGUID.String()
	t.addGPTEntries(g, diskSize)
	t.addHybrid(mbr, diskSize)
	return t, nil
}

// hasSignature reports whether the sector at off starts with "EFI PART".
func hasSignature(r io.ReaderAt, diskSize, off int64) bool {
	if off <= 0 || off+8 > diskSize {
		return false
	}
	b, err := readAt(r, off, 8, "GPT signature")
	return err == nil && string(b) == gptSignature
}

// hasEntries reports whether any MBR slot is in use.
func hasEntries(m mbrSector) bool {
	for _, e := range m.Entries {
		if e.Sectors != 0 {
			return true
		}
	}
	return false
}

func hasProtective(m mbrSector) bool {
	if !m.Magic {
		return false
	}
	for _, e := range m.Entries {
		if e.Type == mbrTypeProtect {
			return true
		}
	}
	return false
}

// pickGPT reads the primary GPT, falling back to the backup (at the LBA the
// primary names, or else the last LBA) when it is damaged. A sound primary
// is still compared with its backup, and any fault there is a warning.
func (t *Table) pickGPT(r io.ReaderAt, diskSize int64, ss int) (*gpt, error) {
	last := uint64(diskSize/int64(ss)) - 1
	primary, perr := readGPTCopy(r, diskSize, ss, 1)
	if perr == nil {
		alt := primary.hdr.AlternateLBA
		backup, berr := readGPTCopy(r, diskSize, ss, alt)
		switch {
		case berr != nil:
			t.warnf("backup GPT: %v", berr)
		case backup.hdr.EntriesCRC != primary.hdr.EntriesCRC || backup.hdr.DiskGUID != primary.hdr.DiskGUID:
			t.warnf("backup GPT at LBA %d differs from the primary (entries CRC %#08x vs %#08x)", alt, backup.hdr.EntriesCRC, primary.hdr.EntriesCRC)
		}
		if alt != last {
			t.warnf("backup GPT header is at LBA %d, not at the last LBA %d of the disk", alt, last)
		}
		return primary, nil
	}
	backup, berr := readGPTCopy(r, diskSize, ss, last)
	if berr != nil {
		return nil, fmt.Errorf("GPT with %d-byte sectors: primary: %w; backup: %w", ss, perr, berr)
	}
	t.warnf("primary GPT damaged (%v); using the backup at LBA %d", perr, last)
	return backup, nil
}

// readGPTCopy reads and checks the header at lba and its entry array.
func readGPTCopy(r io.ReaderAt, diskSize int64, ss int, lba uint64) (*gpt, error) {
	sectors := uint64(diskSize / int64(ss))
	if lba == 0 || lba >= sectors {
		return nil, corruptf("GPT header LBA %d outside the disk (%d sectors)", lba, sectors)
	}
	off := int64(lba) * int64(ss)
	b, err := readAt(r, off, ss, "GPT header")
	if err != nil {
		return nil, err
	}
	h, err := checkGPTHeader(b, lba, sectors, off)
	if err != nil {
		return nil, err
	}
	size := int(h.NumEntries) * int(h.EntrySize) // bounded by checkGPTHeader
	aoff := int64(h.EntriesLBA) * int64(ss)
	if h.EntriesLBA >= sectors || aoff > diskSize-int64(size) {
		return nil, corruptf("GPT header at byte %d: entry array at LBA %d (%d bytes) beyond the end of the disk", off, h.EntriesLBA, size)
	}
	entries, err := readAt(r, aoff, size, "GPT entry array")
	if err != nil {
		return nil, err
	}
	if c := crc32.ChecksumIEEE(entries); c != h.EntriesCRC {
		return nil, corruptf("GPT entry array at byte %d: CRC32 %#08x, header says %#08x", aoff, c, h.EntriesCRC)
	}
	return &gpt{hdr: h, entries: entries}, nil
}

// checkGPTHeader decodes the header sector b read from lba and checks its
// signature, CRC, location and array geometry.
func checkGPTHeader(b []byte, lba, sectors uint64, off int64) (gptHeader, error) {
	h, crc, ok := decodeGPTHeader(b)
	switch {
	case string(h.Signature[:]) != gptSignature:
		return h, corruptf("GPT header at byte %d: signature %q, want %q", off, h.Signature[:], gptSignature)
	case !ok:
		return h, corruptf("GPT header at byte %d: header size %d not in [%d, %d]", off, h.HeaderSize, gptHeaderMinSize, len(b))
	case crc != h.HeaderCRC:
		return h, corruptf("GPT header at byte %d: CRC32 %#08x, header says %#08x", off, crc, h.HeaderCRC)
	case h.MyLBA != lba:
		return h, corruptf("GPT header at byte %d: says it is at LBA %d, read from LBA %d", off, h.MyLBA, lba)
	case h.EntrySize < gptEntryMinSize || h.EntrySize%gptEntryMinSize != 0 || h.EntrySize > maxSectorSize:
		return h, corruptf("GPT header at byte %d: entry size %d is not a multiple of %d up to %d", off, h.EntrySize, gptEntryMinSize, maxSectorSize)
	case uint64(h.NumEntries)*uint64(h.EntrySize) > maxGPTArray:
		return h, corruptf("GPT header at byte %d: %d entries of %d bytes exceed the %d-byte limit", off, h.NumEntries, h.EntrySize, maxGPTArray)
	case h.FirstUsableLBA > h.LastUsableLBA+1 || h.LastUsableLBA >= sectors:
		return h, corruptf("GPT header at byte %d: usable LBAs %d-%d do not fit a disk of %d sectors", off, h.FirstUsableLBA, h.LastUsableLBA, sectors)
	}
	return h, nil
}

// addGPTEntries appends the used entries of g, checking each against the
// disk and the usable range.
func (t *Table) addGPTEntries(g *gpt, diskSize int64) {
	ss := uint64(t.SectorSize)
	es := int(g.hdr.EntrySize)
	for i := 0; i < int(g.hdr.NumEntries); i++ {
		e := decodeGPTEntry(g.entries[i*es : (i+1)*es])
		if e.Type.isZero() {
			continue
		}
		if e.LastLBA < e.FirstLBA || e.LastLBA > math.MaxInt64/ss-1 {
			t.warnf("GPT entry %d: LBA range %d-%d is invalid; entry ignored", i+1, e.FirstLBA, e.LastLBA)
			continue
		}
		if e.FirstLBA < g.hdr.FirstUsableLBA || e.LastLBA > g.hdr.LastUsableLBA {
			t.warnf("partition %d: LBAs %d-%d outside the usable range %d-%d", i+1, e.FirstLBA, e.LastLBA, g.hdr.FirstUsableLBA, g.hdr.LastUsableLBA)
		}
		p := Partition{
			Index:      i + 1,
			Start:      int64(e.FirstLBA * ss),
			Size:       int64((e.LastLBA - e.FirstLBA + 1) * ss),
			Type:       e.Type.String(),
			TypeName:   gptTypeName(e.Type.String()),
			Name:       utf16Name(e.Name[:]),
			GUID:       e.Unique.String(),
			Bootable:   e.Attributes&gptAttrLegacyBoot != 0,
			Attributes: e.Attributes,
		}
		t.clamp(&p, diskSize)
		t.Partitions = append(t.Partitions, p)
	}
}

// addHybrid records the entries of a hybrid MBR: one with a protective 0xEE
// entry beside ordinary ones.
func (t *Table) addHybrid(m mbrSector, diskSize int64) {
	if !hasProtective(m) {
		return
	}
	ss := int64(t.SectorSize)
	for i, e := range m.Entries {
		if e.Sectors == 0 || e.Type == mbrTypeProtect {
			continue
		}
		p := mbrPartition(m.DiskSignature, i+1, e, int64(e.StartLBA)*ss, int64(e.Sectors)*ss)
		if p.Start+p.Size > diskSize {
			t.warnf("hybrid MBR entry %d ends at byte %d, beyond the end of the disk", i+1, p.Start+p.Size)
		}
		t.HybridMBR = append(t.HybridMBR, p)
	}
}
