package partition

import (
	"fmt"
	"io"
	"math"
)

// LV returns the logical volume called name, or nil.
func (vg *VolumeGroup) LV(name string) *LogicalVolume {
	for i := range vg.LVs {
		if vg.LVs[i].Name == name {
			return &vg.LVs[i]
		}
	}
	return nil
}

// Open returns a reader over the contents of the logical volume called
// name. Linear LVs (striped segments with one stripe) and thin LVs
// (including thin snapshots) whose pool lies on linear LVs can be opened,
// on PVs that were among the scanned devices; others give an error
// wrapping errors.ErrUnsupported such as "unsupported: striped LV vg/lv".
// Inconsistent segment maps, and thin pool metadata that fails its
// checksums or is flagged as needing a check, give an error wrapping
// ErrCorrupt. A thin LV reads zeros where its pool maps nothing.
func (vg *VolumeGroup) Open(name string) (*io.SectionReader, error) {
	if lv := vg.LV(name); lv != nil && isThin(lv) {
		tr, err := vg.openThin(lv)
		if err != nil {
			return nil, err
		}
		return io.NewSectionReader(tr, 0, lv.Size), nil
	}
	lr, size, err := vg.mapLV(name)
	if err != nil {
		return nil, err
	}
	return io.NewSectionReader(lr, 0, size), nil
}

// LVPiece places a run of a logical volume's bytes on a physical volume.
type LVPiece struct {
	Offset, Length int64 // in the LV
	Device         int   // index of the PV among the devices given to ScanLVM
	DeviceOffset   int64 // where the run starts on that device
}

// Layout says where each byte of logical volume name lies, in LV order.
// A thin LV's layout has gaps where its pool maps nothing (bytes that
// read as zeros).
func (vg *VolumeGroup) Layout(name string) ([]LVPiece, error) {
	if lv := vg.LV(name); lv != nil && isThin(lv) {
		return vg.thinLayout(lv)
	}
	lr, _, err := vg.mapLV(name)
	if err != nil {
		return nil, err
	}
	out := make([]LVPiece, len(lr.segs))
	for i, s := range lr.segs {
		out[i] = LVPiece{Offset: s.start, Length: s.end - s.start, Device: s.devIndex, DeviceOffset: s.off}
	}
	return out, nil
}

// mapLV checks and maps the segments of logical volume name.
func (vg *VolumeGroup) mapLV(name string) (*lvReader, int64, error) {
	lv := vg.LV(name)
	if lv == nil {
		return nil, 0, fmt.Errorf("open LV %s/%s: no such logical volume", vg.Name, name)
	}
	if vg.isSnapshotCOW(name) {
		return nil, 0, unsupportedf("snapshot LV %s/%s", vg.Name, name)
	}
	lr := &lvReader{}
	var next int64 // next LV extent expected
	for _, seg := range lv.Segments {
		if err := vg.checkLinear(lv, seg); err != nil {
			return nil, 0, err
		}
		if seg.StartExtent != next {
			return nil, 0, corruptf("LV %s/%s: segment at extent %d, want %d (gap or overlap)", vg.Name, lv.Name, seg.StartExtent, next)
		}
		s, err := vg.mapSegment(lv, seg)
		if err != nil {
			return nil, 0, err
		}
		lr.segs = append(lr.segs, s)
		next += seg.ExtentCount
	}
	if next*vg.ExtentSize != lv.Size {
		return nil, 0, corruptf("LV %s/%s: segments cover %d extents, size is %d bytes", vg.Name, lv.Name, next, lv.Size)
	}
	return lr, lv.Size, nil
}

// checkLinear rejects segments that are not one stripe on a scanned PV.
func (vg *VolumeGroup) checkLinear(lv *LogicalVolume, seg Segment) error {
	switch {
	case seg.Type != "striped":
		return unsupportedf("%s LV %s/%s", seg.Type, vg.Name, lv.Name)
	case len(seg.Stripes) != 1:
		return unsupportedf("striped LV %s/%s (%d stripes)", vg.Name, lv.Name, len(seg.Stripes))
	}
	return nil
}

// mapSegment places a linear segment on its PV, checking it lies within the
// PV's extents and the device.
func (vg *VolumeGroup) mapSegment(lv *LogicalVolume, seg Segment) (lvSegment, error) {
	st := seg.Stripes[0]
	var pv *PhysicalVolume
	for i := range vg.PVs {
		if vg.PVs[i].Name == st.PV {
			pv = &vg.PVs[i]
		}
	}
	if pv == nil {
		return lvSegment{}, corruptf("LV %s/%s: segment at extent %d names unknown PV %q", vg.Name, lv.Name, seg.StartExtent, st.PV)
	}
	dev := vg.devs[pv.UUID]
	if dev == nil {
		return lvSegment{}, unsupportedf("LV %s/%s is partly on PV %s (%s, last seen as %s), which is not among the scanned devices (a VG spanning disks)", vg.Name, lv.Name, pv.Name, pv.UUID, pv.Device)
	}
	if st.StartExtent > pv.PECount || seg.ExtentCount > pv.PECount-st.StartExtent {
		return lvSegment{}, corruptf("LV %s/%s: extents %d+%d beyond the %d extents of PV %s", vg.Name, lv.Name, st.StartExtent, seg.ExtentCount, pv.PECount, pv.Name)
	}
	off, length := pv.PEStart+st.StartExtent*vg.ExtentSize, seg.ExtentCount*vg.ExtentSize
	if pv.PECount > (math.MaxInt64-pv.PEStart)/vg.ExtentSize || off > dev.size || length > dev.size-off {
		return lvSegment{}, corruptf("LV %s/%s: segment at extent %d lies at PV %s bytes %d+%d, beyond the %d-byte device", vg.Name, lv.Name, seg.StartExtent, pv.Name, off, length, dev.size)
	}
	start := seg.StartExtent * vg.ExtentSize
	return lvSegment{start: start, end: start + length, dev: dev.r, devIndex: dev.index, off: off}, nil
}

// isSnapshotCOW reports whether LV name holds the data of an old-style
// snapshot: its own segments look linear, but they hold the COW exceptions,
// not a volume.
func (vg *VolumeGroup) isSnapshotCOW(name string) bool {
	for _, lv := range vg.LVs {
		for _, seg := range lv.Segments {
			if seg.Type == "snapshot" && seg.cowStore == name {
				return true
			}
		}
	}
	return false
}
