package fat

import "fmt"

// Cluster count limits that decide the FAT type (FAT specification 1.03,
// section 3.5).
const (
	maxFAT12Clusters = 4084
	maxFAT16Clusters = 65524
	maxFAT32Clusters = 0x0FFFFFF7 - 2 // 0x0FFFFFF7 is the bad-cluster mark
)

// layout is where everything is, in bytes from the start of the volume,
// derived from a checked boot sector.
type layout struct {
	fatBits     int    // 12, 16 or 32
	sectorSize  int64  // bytes
	clusterSize int64  // bytes
	fatOffset   int64  // the FAT this reader uses
	fatSize     int64  // bytes of one FAT
	fatEnd      int64  // end of all FAT copies
	rootOffset  int64  // fixed root directory (FAT12/16)
	rootSize    int64  // bytes of the fixed root directory (FAT12/16)
	dataOffset  int64  // cluster 2
	clusters    uint32 // data clusters; valid numbers are 2..clusters+1
	rootCluster uint32 // FAT32 root directory
	volumeSize  int64  // total sectors * sector size
}

// newLayout computes the layout the way the FAT specification does,
// deciding the FAT type by cluster count.
func newLayout(b *bootSector) (*layout, error) {
	ss := int64(b.BytesPerSector)
	l := &layout{
		sectorSize:  ss,
		clusterSize: ss * int64(b.SectorsPerCluster),
		volumeSize:  b.totalSectors() * ss,
		fatSize:     b.fatSectors() * ss,
	}
	rootSectors := (int64(b.RootEntries)*dirEntrySize + ss - 1) / ss
	meta := int64(b.ReservedSectors) + int64(b.NumFATs)*b.fatSectors() + rootSectors
	if meta >= b.totalSectors() {
		return nil, fmt.Errorf("boot sector: %d metadata sectors (reserved, FATs, root) leave no data area in %d sectors: %w",
			meta, b.totalSectors(), ErrCorrupt)
	}
	count := (b.totalSectors() - meta) / int64(b.SectorsPerCluster)
	if count == 0 {
		return nil, fmt.Errorf("boot sector: data area smaller than one cluster: %w", ErrCorrupt)
	}
	switch {
	case b.fat32Layout():
		l.fatBits = 32 // see the package doc: no fixed root to read otherwise
	case count <= maxFAT12Clusters:
		l.fatBits = 12
	case count <= maxFAT16Clusters:
		l.fatBits = 16
	default:
		return nil, fmt.Errorf("boot sector: %d clusters need FAT32 but BPB_FATSz16 is %d (FAT12/16 layout): %w",
			count, b.FATSize16, ErrCorrupt)
	}
	// Like Linux, use no more clusters than the FAT has entries for.
	entries := l.fatSize * 8 / int64(l.fatBits)
	count = min(count, entries-2, maxFAT32Clusters)
	if count <= 0 {
		return nil, fmt.Errorf("boot sector: FAT of %d bytes holds no cluster entries: %w", l.fatSize, ErrCorrupt)
	}
	l.clusters = uint32(count)

	active := int64(0)
	if l.fatBits == 32 && b.ExtFlags&0x80 != 0 {
		active = int64(b.ExtFlags & 0x0F)
		if active >= int64(b.NumFATs) {
			return nil, fmt.Errorf("boot sector: active FAT %d (BPB_ExtFlags 0x%04x) but only %d FATs: %w",
				active, b.ExtFlags, b.NumFATs, ErrCorrupt)
		}
	}
	l.fatOffset = int64(b.ReservedSectors)*ss + active*l.fatSize
	l.fatEnd = int64(b.ReservedSectors)*ss + int64(b.NumFATs)*l.fatSize
	l.rootOffset = l.fatEnd
	l.dataOffset = (int64(b.ReservedSectors) + int64(b.NumFATs)*b.fatSectors() + rootSectors) * ss

	if l.fatBits == 32 {
		l.rootCluster = b.RootCluster
		if !l.validCluster(l.rootCluster) {
			return nil, fmt.Errorf("boot sector: root cluster %d out of range 2..%d: %w",
				b.RootCluster, l.clusters+1, ErrCorrupt)
		}
	} else {
		if b.RootEntries == 0 {
			return nil, fmt.Errorf("boot sector: FAT%d with no root directory entries (BPB_RootEntCnt 0): %w", l.fatBits, ErrCorrupt)
		}
		l.rootSize = int64(b.RootEntries) * dirEntrySize
	}
	return l, nil
}

func (l *layout) validCluster(c uint32) bool { return c >= 2 && c-2 < l.clusters }

// clusterOffset is the byte offset of data cluster c, which must be valid.
func (l *layout) clusterOffset(c uint32) int64 {
	return l.dataOffset + int64(c-2)*l.clusterSize
}

// dataEnd is the end of the last data cluster.
func (l *layout) dataEnd() int64 { return l.dataOffset + int64(l.clusters)*l.clusterSize }
