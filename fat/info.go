package fat

import (
	"fmt"
	"io"
)

// VolumeInfo describes a FAT volume.
type VolumeInfo struct {
	Type    string // "fat12", "fat16" or "fat32", by cluster count
	Label   string // root directory label entry, else the boot sector's; "" for none or "NO NAME"
	Serial  uint32 // BS_VolID
	UUID    string // Serial as blkid and /dev/disk/by-uuid show it: "ABCD-1234"
	OEMName string

	SectorSize    int64 // bytes
	ClusterSize   int64 // bytes; the block size
	TotalClusters uint32
	// FreeClusters is the FAT32 FSInfo hint (possibly stale), or -1 when
	// unknown (FAT12/16, or FSInfo invalid). CountFree counts exactly.
	FreeClusters int64
	Size         int64 // bytes the boot sector says the volume has

	Dirty      bool // Linux's dirty bit in the boot sector, or FAT[1]'s clean-shutdown bit clear
	HardErrors bool // FAT[1]'s hard-error bit says an I/O error was seen (FAT16/32)
}

// Info describes the volume. It does no I/O: everything is read by Open.
func (fs *FS) Info() VolumeInfo { return fs.info }

// readInfo gathers VolumeInfo at Open. Failures to read the optional parts
// (FSInfo, FAT[1], the root label) leave them unset rather than failing.
func (fs *FS) readInfo() VolumeInfo {
	b, l := fs.boot, fs.l
	v := VolumeInfo{
		Type:          fmt.Sprintf("fat%d", l.fatBits),
		Serial:        b.Serial,
		UUID:          fmt.Sprintf("%04X-%04X", b.Serial>>16, b.Serial&0xFFFF),
		OEMName:       string(trimSpaces(b.OEMName[:])),
		SectorSize:    l.sectorSize,
		ClusterSize:   l.clusterSize,
		TotalClusters: l.clusters,
		FreeClusters:  -1,
		Size:          l.volumeSize,
		Dirty:         b.State&0x01 != 0,
	}
	if b.ExtBootSig == 0x29 || b.ExtBootSig == 0x28 {
		v.Label = volumeLabel(b.Label[:])
	}
	if d, err := fs.rootDir(); err == nil && d.label != nil {
		v.Label = volumeLabel(d.label)
	}
	if fs.l.fatBits == 32 && b.FSInfoSector != 0 && b.FSInfoSector != 0xFFFF {
		buf := make([]byte, 512)
		off := int64(b.FSInfoSector) * l.sectorSize
		if _, err := fs.r.ReadAt(buf, off); err == nil || err == io.EOF {
			if fi, ok := parseFSInfo(buf); ok && fi.FreeCount <= l.clusters {
				v.FreeClusters = int64(fi.FreeCount)
			}
		}
	}
	if fs.l.fatBits != 12 {
		if e1, err := fs.fat.entry(1); err == nil {
			clean, noErr := uint32(0x8000), uint32(0x4000)
			if fs.l.fatBits == 32 {
				clean, noErr = 0x08000000, 0x04000000
			}
			v.Dirty = v.Dirty || e1&clean == 0
			v.HardErrors = e1&noErr == 0
		}
	}
	return v
}

func volumeLabel(raw []byte) string {
	s := decodeOEM(trimSpaces(raw), false)
	if s == "NO NAME" {
		return ""
	}
	return s
}

// CountFree counts the free clusters in the FAT (exact, reads the FAT).
func (fs *FS) CountFree() (uint32, error) {
	var free uint32
	var cur blockRef
	for c := uint32(2); c-2 < fs.l.clusters; c++ {
		v, err := fs.fat.entryVia(c, &cur)
		if err != nil {
			return 0, fmt.Errorf("fat: count free clusters: %w", err)
		}
		if v == 0 {
			free++
		}
	}
	return free, nil
}
