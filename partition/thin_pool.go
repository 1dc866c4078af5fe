package partition

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// thinPool is an opened thin pool: its checked superblock, its metadata
// btrees, and its data device.
type thinPool struct {
	name  string // "vg/pool"
	sb    thinSuperblock
	meta  *thinMeta
	data  io.ReaderAt
	chunk int64  // bytes per data block
	nData uint64 // data blocks that exist in the space map and on the data LV
}

// thinPoolSegment returns the single thin-pool segment of LV name.
func (vg *VolumeGroup) thinPoolSegment(name string) (*Segment, error) {
	lv := vg.LV(name)
	if lv == nil {
		return nil, corruptf("LVM metadata: thin pool %s/%s does not exist", vg.Name, name)
	}
	if len(lv.Segments) != 1 || lv.Segments[0].Type != "thin-pool" {
		return nil, corruptf("LVM metadata: %s/%s is not a thin pool (one thin-pool segment)", vg.Name, name)
	}
	return &lv.Segments[0], nil
}

// openThinPool maps the pool's hidden metadata and data LVs and checks the
// pool's superblock. Metadata it cannot trust is refused, never guessed at.
func (vg *VolumeGroup) openThinPool(name string) (*thinPool, error) {
	seg, err := vg.thinPoolSegment(name)
	if err != nil {
		return nil, err
	}
	mr, msize, err := vg.mapLV(seg.PoolMetadata)
	if err != nil {
		return nil, fmt.Errorf("thin pool %s/%s metadata: %w", vg.Name, name, err)
	}
	dr, dsize, err := vg.mapLV(seg.PoolData)
	if err != nil {
		return nil, fmt.Errorf("thin pool %s/%s data: %w", vg.Name, name, err)
	}
	p := &thinPool{name: vg.Name + "/" + name, data: dr, chunk: seg.ChunkSize}
	where := fmt.Sprintf("thin pool %s metadata (LV %s/%s)", p.name, vg.Name, seg.PoolMetadata)
	if msize < thinBlockSize {
		return nil, corruptf("%s: %d bytes, smaller than the superblock", where, msize)
	}
	b, err := readAt(mr, 0, thinBlockSize, where+" superblock")
	if err != nil {
		return nil, err
	}
	p.sb = decodeThinSuperblock(b)
	if err := p.checkSuperblock(where, msize, dsize); err != nil {
		return nil, err
	}
	p.meta = &thinMeta{r: mr, blocks: min(p.sb.MetaBlocks, uint64(msize/thinBlockSize)), where: where,
		nodes: map[uint64]*thinNode{}, bitmaps: map[uint64][]byte{}}
	return p, nil
}

// checkSuperblock refuses a superblock the kernel would refuse, and also
// one whose pool needs thin_check or is being dumped from a held root.
func (p *thinPool) checkSuperblock(where string, msize, dsize int64) error {
	sb := p.sb
	switch {
	case sb.Magic != thinSuperMagic:
		return corruptf("%s: superblock magic %d, want %d (an unformatted pool?)", where, sb.Magic, thinSuperMagic)
	case sb.Csum != sb.computed:
		return corruptf("%s: superblock checksum %#08x, superblock says %#08x", where, sb.computed, sb.Csum)
	case sb.Blocknr != 0:
		return corruptf("%s: superblock says it is block %d", where, sb.Blocknr)
	case sb.Flags&thinNeedsCheck != 0:
		return corruptf("%s: the needs_check flag is set (the kernel found an error; run thin_check/thin_repair on the pool)", where)
	case sb.HeldRoot != 0:
		return unsupportedf("%s: a metadata snapshot is held at block %d (reserve_metadata_snap): the pool was captured while its metadata was being dumped", where, sb.HeldRoot)
	case sb.Version < 1 || sb.Version > 2:
		return unsupportedf("%s: metadata version %d", where, sb.Version)
	case sb.IncompatFlags != 0:
		return unsupportedf("%s: incompatible feature flags %#x", where, sb.IncompatFlags)
	case sb.MetaBlockSize != thinBlockSize/lvmSectorSize:
		return corruptf("%s: metadata block size %d sectors, want %d", where, sb.MetaBlockSize, thinBlockSize/lvmSectorSize)
	case int64(sb.DataBlockSize)*lvmSectorSize != p.chunk:
		return corruptf("%s: data block size %d sectors, LVM metadata says chunk_size %d", where, sb.DataBlockSize, p.chunk/lvmSectorSize)
	case sb.DataBlockSize < thinMinChunk || sb.DataBlockSize > thinMaxChunk || sb.DataBlockSize%thinMinChunk != 0:
		return corruptf("%s: data block size %d sectors (want a multiple of %d up to %d)", where, sb.DataBlockSize, thinMinChunk, thinMaxChunk)
	case sb.DataSM.NrAllocated > sb.DataSM.NrBlocks:
		return corruptf("%s: data space map has %d of %d blocks allocated", where, sb.DataSM.NrAllocated, sb.DataSM.NrBlocks)
	case sb.DataSM.NrBlocks > math.MaxInt64/uint64(p.chunk) || int64(sb.DataSM.NrBlocks)*p.chunk > dsize:
		return corruptf("%s: data space map has %d blocks of %d bytes, more than the %d-byte data LV", where, sb.DataSM.NrBlocks, p.chunk, dsize)
	case sb.MappingRoot == 0 || sb.DetailsRoot == 0:
		return corruptf("%s: superblock has no mapping or device details root", where)
	}
	p.nData = sb.DataSM.NrBlocks
	return nil
}

// device returns the root of thin device id's mapping tree and its details.
func (p *thinPool) device(id int64) (uint64, thinDeviceDetails, error) {
	v, ok, err := p.meta.lookup(p.sb.DetailsRoot, uint64(id), thinDetailsSize)
	if err != nil {
		return 0, thinDeviceDetails{}, err
	}
	if !ok {
		return 0, thinDeviceDetails{}, corruptf("%s: thin device %d is not in the device details tree (LVM metadata and pool metadata disagree)", p.meta.where, id)
	}
	det := decodeThinDeviceDetails(v)
	v, ok, err = p.meta.lookup(p.sb.MappingRoot, uint64(id), 8)
	if err != nil {
		return 0, det, err
	}
	if !ok {
		return 0, det, corruptf("%s: thin device %d has no mapping tree", p.meta.where, id)
	}
	return binary.LittleEndian.Uint64(v), det, nil
}

// dataBlock returns where virtual block vblock of the device whose mapping
// tree is at root lies in the data LV, or false if it is unmapped.
func (p *thinPool) dataBlock(root uint64, vblock uint64) (uint64, bool, error) {
	v, ok, err := p.meta.lookup(root, vblock, 8)
	if err != nil || !ok {
		return 0, false, err
	}
	b := binary.LittleEndian.Uint64(v) >> thinTimeBits
	if b >= p.nData {
		return 0, false, corruptf("%s: virtual block %d maps to data block %d, beyond the pool's %d blocks", p.meta.where, vblock, b, p.nData)
	}
	used, err := p.allocated(b)
	if err != nil {
		return 0, false, err
	}
	if !used {
		return 0, false, corruptf("%s: virtual block %d maps to data block %d, which the data space map says is free (stale or damaged metadata)", p.meta.where, vblock, b)
	}
	return b, true, nil
}
