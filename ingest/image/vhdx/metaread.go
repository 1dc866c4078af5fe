package vhdx

import (
	"encoding/binary"
	"fmt"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
)

// readMetadata reads the metadata table and the items a reader needs.
func (d *Disk) readMetadata() error {
	r := d.region(regionMetadata)
	if r.Length < metaTableLen {
		return vdisk.Corruptf("vhdx %q: metadata region of %d bytes is smaller than its table", d.name, r.Length)
	}
	b := make([]byte, metaTableLen)
	if err := vdisk.ReadFull(d.src, b, int64(r.FileOffset), fmt.Sprintf("vhdx %q: metadata table", d.name)); err != nil {
		return err
	}
	sig, entries, count := parseMetaTable(b)
	if sig != "metadata" {
		return vdisk.Corruptf("vhdx %q: metadata table at offset %d has signature %q, expected \"metadata\"", d.name, r.FileOffset, sig)
	}
	if count > maxMetaItems {
		return vdisk.Corruptf("vhdx %q: metadata table has %d entries, expected at most %d", d.name, count, maxMetaItems)
	}
	items, err := d.metaItems(entries, r)
	if err != nil {
		return err
	}
	return d.decodeItems(items)
}

// known are the metadata items a reader understands, with their lengths
// (0: variable).
var known = map[GUID]uint32{
	itemFileParameters: 8, itemDiskSize: 8, itemPage83: 16,
	itemLogicalSector: 4, itemPhysicalSector: 4, itemParentLocator: 0,
}

// metaItems reads the known items, checking every entry's place.
func (d *Disk) metaItems(entries []MetaEntry, r RegionEntry) (map[GUID][]byte, error) {
	items := map[GUID][]byte{}
	for i, e := range entries {
		want, ok := known[e.ItemID]
		switch {
		case ok && e.IsUser:
			return nil, vdisk.Corruptf("vhdx %q: metadata entry %d (%s) is marked as a user item", d.name, i, e.ItemID)
		case !ok && e.Required:
			return nil, vdisk.Unsupportedf("vhdx %q: unknown required metadata item %s", d.name, e.ItemID)
		case e.Length > 0 && (e.Offset < metaTableLen || uint64(e.Offset)+uint64(e.Length) > uint64(r.Length)):
			return nil, vdisk.Corruptf("vhdx %q: metadata item %s of %d bytes at region offset %d, expected it after the table and inside the %d-byte region",
				d.name, e.ItemID, e.Length, e.Offset, r.Length)
		case !ok:
			continue
		case items[e.ItemID] != nil:
			return nil, vdisk.Corruptf("vhdx %q: metadata item %s appears twice", d.name, e.ItemID)
		case want != 0 && e.Length != want || want == 0 && (e.Length < 20 || e.Length > 64<<10):
			return nil, vdisk.Corruptf("vhdx %q: metadata item %s has %d bytes, expected %d", d.name, e.ItemID, e.Length, want)
		}
		b := make([]byte, e.Length)
		if err := vdisk.ReadFull(d.src, b, int64(r.FileOffset)+int64(e.Offset), fmt.Sprintf("vhdx %q: metadata item %s", d.name, e.ItemID)); err != nil {
			return nil, err
		}
		items[e.ItemID] = b
	}
	return items, nil
}

// decodeItems checks the values of the metadata items.
func (d *Disk) decodeItems(items map[GUID][]byte) error {
	for _, g := range []GUID{itemFileParameters, itemDiskSize, itemLogicalSector, itemPhysicalSector} {
		if items[g] == nil {
			return vdisk.Corruptf("vhdx %q: required metadata item %s is missing", d.name, g)
		}
	}
	p := parseFileParameters(items[itemFileParameters])
	size := binary.LittleEndian.Uint64(items[itemDiskSize])
	d.sector = int64(le32(items[itemLogicalSector]))
	d.physical = int64(le32(items[itemPhysicalSector]))
	bs := p.BlockSize
	switch {
	case bs < minBlockSize || bs > maxBlockSize || bs&(bs-1) != 0:
		return vdisk.Corruptf("vhdx %q: block size %d, expected a power of two from 1 MiB to 256 MiB", d.name, bs)
	case d.sector != 512 && d.sector != 4096:
		return vdisk.Corruptf("vhdx %q: logical sector size %d, expected 512 or 4096", d.name, d.sector)
	case d.physical != 512 && d.physical != 4096:
		return vdisk.Corruptf("vhdx %q: physical sector size %d, expected 512 or 4096", d.name, d.physical)
	case size == 0 || size > maxDiskSize || size%uint64(d.sector) != 0:
		return vdisk.Corruptf("vhdx %q: virtual disk size %d, expected a multiple of the %d-byte sector up to 64 TiB", d.name, size, d.sector)
	case p.HasParent && items[itemParentLocator] == nil:
		return vdisk.Corruptf("vhdx %q: differencing disk without a parent locator item", d.name)
	}
	d.params, d.size, d.blockSize = p, int64(size), int64(bs)
	d.chunkRatio = (1 << 23) * d.sector / d.blockSize
	if !p.HasParent {
		return nil
	}
	pl, ok := parseParentLocator(items[itemParentLocator])
	if !ok {
		return vdisk.Corruptf("vhdx %q: parent locator item has entries outside it or repeated keys", d.name)
	}
	if pl.Type != locatorTypeVHDX {
		return vdisk.Unsupportedf("vhdx %q: parent locator type %s, only %s (VHDX parent) is read", d.name, pl.Type, locatorTypeVHDX)
	}
	d.locator = pl
	return nil
}
