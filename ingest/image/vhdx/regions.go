package vhdx

import (
	"errors"
	"fmt"
	"sort"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
)

// readRegions reads the first valid region table and checks its entries.
func (d *Disk) readRegions() error {
	var errs []error
	for _, off := range []int64{regionOff1, regionOff2} {
		entries, err := d.regionTableAt(off)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := d.checkRegions(entries); err != nil {
			return err
		}
		d.regions = entries
		return nil
	}
	return vdisk.Corruptf("vhdx %q: no valid region table: %v", d.name, errors.Join(errs...))
}

func (d *Disk) regionTableAt(off int64) ([]RegionEntry, error) {
	b := make([]byte, regionLen)
	if err := vdisk.ReadFull(d.src, b, off, fmt.Sprintf("vhdx %q: region table", d.name)); err != nil {
		return nil, err
	}
	sig, count, entries := parseRegions(b)
	switch {
	case sig != sigRegion:
		return nil, fmt.Errorf("region table at offset %d has signature %q, expected \"regi\"", off, b[:4])
	case crc32c(b) != le32(b[4:]):
		return nil, fmt.Errorf("region table at offset %d has CRC-32C %#08x, computed %#08x", off, le32(b[4:]), crc32c(b))
	case count > maxRegions:
		return nil, fmt.Errorf("region table at offset %d has %d entries, expected at most %d", off, count, maxRegions)
	}
	return entries, nil
}

// checkRegions wants the BAT and metadata regions, refuses unknown
// required regions, and keeps regions 1 MiB-aligned, inside the file and
// apart from each other and the header section.
func (d *Disk) checkRegions(entries []RegionEntry) error {
	seen := map[GUID]bool{}
	spans := []vdisk.Extent{{Off: 0, Len: sectionEnd}}
	for i, r := range entries {
		known := r.GUID == regionBAT || r.GUID == regionMetadata
		switch {
		case seen[r.GUID]:
			return vdisk.Corruptf("vhdx %q: region %s appears twice in the region table", d.name, r.GUID)
		case !known && r.Required:
			return vdisk.Unsupportedf("vhdx %q: unknown required region %s", d.name, r.GUID)
		case r.FileOffset%sectionEnd != 0 || r.Length%sectionEnd != 0 || r.Length == 0 ||
			r.FileOffset > uint64(d.src.Size()) || uint64(r.Length) > uint64(d.src.Size())-r.FileOffset:
			return vdisk.Corruptf("vhdx %q: region table entry %d (%s) at offset %d of %d bytes, expected a non-empty 1 MiB-aligned region inside the %d-byte file",
				d.name, i, r.GUID, r.FileOffset, r.Length, d.src.Size())
		}
		seen[r.GUID] = true
		spans = append(spans, vdisk.Extent{Off: int64(r.FileOffset), Len: int64(r.Length)})
	}
	for _, g := range []GUID{regionBAT, regionMetadata} {
		if !seen[g] {
			return vdisk.Corruptf("vhdx %q: region table lacks the %s region %s", d.name, regionName(g), g)
		}
	}
	if d.hdr.LogLength > 0 {
		spans = append(spans, vdisk.Extent{Off: int64(d.hdr.LogOffset), Len: int64(d.hdr.LogLength)})
	}
	if i, j, ok := overlap(spans); ok {
		return vdisk.Corruptf("vhdx %q: regions [%d, %d) and [%d, %d) overlap", d.name, i.Off, i.End(), j.Off, j.End())
	}
	return nil
}

func regionName(g GUID) string {
	if g == regionBAT {
		return "BAT"
	}
	return "metadata"
}

// overlap returns two overlapping spans, if any.
func overlap(spans []vdisk.Extent) (a, b vdisk.Extent, ok bool) {
	s := append([]vdisk.Extent(nil), spans...)
	sort.Slice(s, func(i, j int) bool { return s[i].Off < s[j].Off })
	for k := 1; k < len(s); k++ {
		if s[k].Off < s[k-1].End() {
			return s[k-1], s[k], true
		}
	}
	return a, b, false
}

// region returns the entry of a region checkRegions found.
func (d *Disk) region(g GUID) RegionEntry {
	for _, r := range d.regions {
		if r.GUID == g {
			return r
		}
	}
	panic("vhdx: region not checked")
}
