package ext4

import (
	"fmt"
	"sort"
)

// RangeKind classifies a byte range of the volume.
type RangeKind uint8

const (
	// Unallocated: free in the block bitmap.
	Unallocated RangeKind = iota
	// Metadata: static filesystem structures (boot block, superblocks,
	// group descriptors and reserved GDT blocks, bitmaps, inode tables)
	// and the journal.
	Metadata
	// Allocated: in use per the block bitmap and not static metadata:
	// file and directory data, extent tree, indirect and xattr blocks.
	Allocated
)

func (k RangeKind) String() string {
	switch k {
	case Unallocated:
		return "unallocated"
	case Metadata:
		return "metadata"
	case Allocated:
		return "allocated"
	}
	return fmt.Sprintf("RangeKind(%d)", uint8(k))
}

// Range is a run of volume bytes of one kind.
type Range struct {
	Start, Length int64 // bytes
	Kind          RangeKind
}

// span is a block range [start, end) of one kind.
type span struct {
	start, end uint64
	kind       RangeKind
}

// Allocation classifies every block of the filesystem from the block
// bitmaps and the static layout, in volume order. It reads one bitmap block
// per group plus the journal's extent tree.
func (fs *FS) Allocation() ([]Range, error) {
	base, err := fs.bitmapSpans()
	if err != nil {
		return nil, err
	}
	meta, err := fs.metadataSpans()
	if err != nil {
		return nil, err
	}
	var out []Range
	emit := func(s, e uint64, k RangeKind) {
		if s >= e {
			return
		}
		if n := len(out); n > 0 && out[n-1].Kind == k && out[n-1].Start+out[n-1].Length == int64(s)*fs.bs {
			out[n-1].Length += int64(e-s) * fs.bs
			return
		}
		out = append(out, Range{Start: int64(s) * fs.bs, Length: int64(e-s) * fs.bs, Kind: k})
	}
	mi := 0
	for _, b := range base {
		pos := b.start
		for pos < b.end {
			for mi < len(meta) && meta[mi].end <= pos {
				mi++
			}
			if mi < len(meta) && meta[mi].start <= pos {
				e := min(meta[mi].end, b.end)
				emit(pos, e, Metadata)
				pos = e
				continue
			}
			e := b.end
			if mi < len(meta) && meta[mi].start < e {
				e = meta[mi].start
			}
			emit(pos, e, b.kind)
			pos = e
		}
	}
	return out, nil
}

// bitmapSpans reads the block bitmaps into allocated/unallocated spans
// covering blocks [0, s_blocks_count).
func (fs *FS) bitmapSpans() ([]span, error) {
	sb := fs.sb
	var out []span
	add := func(s, e uint64, k RangeKind) {
		if n := len(out); n > 0 && out[n-1].kind == k && out[n-1].end == s {
			out[n-1].end = e
			return
		}
		out = append(out, span{s, e, k})
	}
	if sb.firstDataBlock > 0 {
		add(0, uint64(sb.firstDataBlock), Allocated) // boot block of 1 KiB-block volumes
	}
	ratio := uint64(sb.clusterRatio())
	csum := sb.featureRoCompat&(roCompatGdtCsum|roCompatMetadataCsum) != 0
	for g, gd := range fs.groups {
		first := uint64(sb.firstDataBlock) + uint64(g)*uint64(sb.blocksPerGroup)
		n := min(uint64(sb.blocksPerGroup), sb.blocksCount-first)
		if csum && gd.flags&bgBlockUninit != 0 {
			add(first, first+n, Unallocated)
			continue
		}
		if err := fs.badGroups[uint32(g)]; err != nil {
			return nil, fmt.Errorf("allocation: %w", err)
		}
		bm, err := fs.readBlock(gd.blockBitmap)
		if err != nil {
			return nil, fmt.Errorf("allocation: group %d block bitmap: %w", g, err)
		}
		clusters := (n + ratio - 1) / ratio
		if clusters > uint64(len(bm))*8 {
			return nil, corruptf("group %d: %d clusters exceed the bitmap block", g, clusters)
		}
		for c := uint64(0); c < clusters; {
			bit := bm[c/8]>>(c%8)&1 != 0
			e := c + 1
			// Skip whole bytes of the same value quickly.
			for e < clusters {
				if e%8 == 0 && e+8 <= clusters && (bm[e/8] == 0 && !bit || bm[e/8] == 0xFF && bit) {
					e += 8
					continue
				}
				if bm[e/8]>>(e%8)&1 != 0 != bit {
					break
				}
				e++
			}
			k := Unallocated
			if bit {
				k = Allocated
			}
			add(first+c*ratio, min(first+e*ratio, first+n), k)
			c = e
		}
	}
	return out, nil
}

// metadataSpans lists the static metadata and journal blocks, sorted and
// merged.
func (fs *FS) metadataSpans() ([]span, error) {
	sb := fs.sb
	var ms []span
	add := func(s, n uint64) {
		if n > 0 && s < sb.blocksCount {
			ms = append(ms, span{s, min(s+n, sb.blocksCount), Metadata})
		}
	}
	add(0, uint64(sb.firstDataBlock)+1) // boot block and primary superblock
	dpb := uint64(fs.bs) / uint64(sb.groupDescSize())
	gdtBlocks := (uint64(len(fs.groups)) + dpb - 1) / dpb
	metaBG := sb.featureIncompat&incompatMetaBG != 0
	if metaBG {
		gdtBlocks = min(gdtBlocks, uint64(sb.firstMetaBG))
	}
	tableBlocks := (uint64(sb.inodesPerGroup)*uint64(sb.inodeSize) + uint64(fs.bs) - 1) / uint64(fs.bs)
	for g, gd := range fs.groups {
		first := uint64(sb.firstDataBlock) + uint64(g)*uint64(sb.blocksPerGroup)
		super := fs.groupHasSuper(uint64(g))
		if super {
			n := 1 + gdtBlocks + uint64(sb.reservedGdt)
			if g == 0 {
				n += fs.groupZeroAdjust()
			}
			add(first, n)
		}
		if metaBG {
			if mg, i := uint64(g)/dpb, uint64(g)%dpb; mg >= uint64(sb.firstMetaBG) && (i == 0 || i == 1 || i == dpb-1) {
				off := uint64(0)
				if super {
					off = 1
				}
				add(first+off, 1)
			}
		}
		if fs.badGroups[uint32(g)] != nil {
			continue
		}
		add(gd.blockBitmap, 1)
		add(gd.inodeBitmap, 1)
		add(gd.inodeTable, tableBlocks)
	}
	if sb.featureCompat&compatHasJournal != 0 && sb.journalInum != 0 {
		ext, err := fs.Extents(uint64(sb.journalInum))
		if err != nil {
			return nil, fmt.Errorf("allocation: journal inode %d: %w", sb.journalInum, err)
		}
		for _, e := range ext {
			add(uint64(e.Physical/fs.bs), uint64((e.Length+fs.bs-1)/fs.bs))
		}
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].start < ms[j].start })
	var out []span
	for _, m := range ms {
		if n := len(out); n > 0 && m.start <= out[n-1].end {
			out[n-1].end = max(out[n-1].end, m.end)
			continue
		}
		out = append(out, m)
	}
	return out, nil
}
