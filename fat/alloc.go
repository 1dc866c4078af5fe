package fat

import "fmt"

// RegionKind says what a byte range of the volume holds.
type RegionKind uint8

const (
	// RegionMeta is filesystem metadata: boot and reserved sectors, every
	// FAT copy, the fixed FAT12/16 root directory, and bad clusters.
	RegionMeta RegionKind = iota + 1
	// RegionData is allocated clusters (file data and directories).
	RegionData
)

// Region is a byte range of the volume.
type Region struct {
	Offset int64
	Length int64
	Kind   RegionKind
}

// Allocated lists the volume's metadata and allocated clusters in offset
// order, adjacent ranges of one kind merged. Everything not listed
// (free clusters and the tail after the last cluster) is unallocated. It
// reads the whole FAT.
func (fs *FS) Allocated() ([]Region, error) {
	l := fs.l
	out := []Region{{Offset: 0, Length: l.dataOffset, Kind: RegionMeta}}
	add := func(off, n int64, k RegionKind) {
		if last := &out[len(out)-1]; last.Kind == k && last.Offset+last.Length == off {
			last.Length += n
			return
		}
		out = append(out, Region{Offset: off, Length: n, Kind: k})
	}
	bad := fs.fat.badMark()
	var cur blockRef
	for c := uint32(2); c-2 < l.clusters; c++ {
		v, err := fs.fat.entryVia(c, &cur)
		if err != nil {
			return nil, fmt.Errorf("fat: allocation map: %w", err)
		}
		switch {
		case v == 0:
		case v == bad:
			add(l.clusterOffset(c), l.clusterSize, RegionMeta)
		default:
			add(l.clusterOffset(c), l.clusterSize, RegionData)
		}
	}
	return out, nil
}
