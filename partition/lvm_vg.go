package partition

import (
	"fmt"
	"math"
	"slices"
)

// VolumeGroup is an LVM2 volume group as described by the newest metadata
// found on its physical volumes.
type VolumeGroup struct {
	Name       string
	UUID       string
	Seqno      int64 // metadata sequence number
	ExtentSize int64 // bytes
	PVs        []PhysicalVolume
	LVs        []LogicalVolume
	// Warnings lists problems that did not prevent reading the group, such
	// as a metadata area with a bad checksum.
	Warnings []string

	devs map[string]*pvDevice // by PV UUID (with dashes): the scanned PVs
}

// PhysicalVolume is one PV of a volume group.
type PhysicalVolume struct {
	Name    string // metadata name, e.g. "pv0"
	UUID    string
	Device  string // device path when the metadata was written: a hint only
	PEStart int64  // bytes from the start of the PV to extent 0
	PECount int64  // extents
	Found   bool   // its label was among the scanned devices
}

// LogicalVolume is one LV of a volume group.
type LogicalVolume struct {
	Name     string
	UUID     string
	Size     int64 // bytes
	Visible  bool  // false for internal LVs (thin pool data, raid images, ...)
	Segments []Segment
}

// Segment maps a run of LV extents. Linear ("striped" with one stripe)
// and "thin" segments can be read.
type Segment struct {
	StartExtent int64  // first LV extent
	ExtentCount int64  // extents
	Type        string // "striped", "mirror", "raid1", "thin-pool", "thin", "snapshot", ...
	StripeSize  int64  // bytes, for striped segments with several stripes
	Stripes     []Stripe

	// Thin pool segments: the hidden LVs holding the pool's metadata
	// (<pool>_tmeta) and data (<pool>_tdata), and the pool's chunk size.
	PoolMetadata, PoolData string
	ChunkSize              int64 // bytes
	// Thin segments: the pool, the volume's device id in the pool's
	// metadata, and the LV it was snapshotted from ("" if none). A thin
	// LV with an external origin reads the origin where it maps nothing.
	ThinPool       string
	DeviceID       int64
	Origin         string
	ExternalOrigin string

	cowStore string // snapshot segments: the LV holding the snapshot's data
}

// Stripe places a striped segment's stripe on a PV.
type Stripe struct {
	PV          string // PV metadata name
	StartExtent int64  // first PV extent
}

// decodeVG builds a volume group from parsed metadata text. It checks the
// numbers it will compute with, not the semantics LVM would.
func decodeVG(root *cfgSection) (*VolumeGroup, error) {
	if len(root.sections) != 1 {
		return nil, corruptf("LVM metadata has %d top-level sections, want 1 (the VG)", len(root.sections))
	}
	s := root.sections[0]
	d := decoder{where: "VG " + s.name}
	vg := &VolumeGroup{
		Name:       s.name,
		UUID:       d.str(s, "id"),
		Seqno:      d.num(s, "seqno", 0, math.MaxInt64),
		ExtentSize: d.num(s, "extent_size", 1, math.MaxInt64/lvmSectorSize) * lvmSectorSize,
	}
	if pvs := s.section("physical_volumes"); pvs != nil {
		for _, ps := range pvs.sections {
			vg.PVs = append(vg.PVs, decodePV(&d, ps))
		}
	}
	if lvs := s.section("logical_volumes"); lvs != nil {
		for _, ls := range lvs.sections {
			vg.LVs = append(vg.LVs, decodeLV(&d, ls, vg.ExtentSize))
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	return vg, nil
}

func decodePV(d *decoder, s *cfgSection) PhysicalVolume {
	return PhysicalVolume{
		Name:    s.name,
		UUID:    d.str(s, "id"),
		Device:  d.optStr(s, "device"),
		PEStart: d.num(s, "pe_start", 0, math.MaxInt64/lvmSectorSize) * lvmSectorSize,
		PECount: d.num(s, "pe_count", 0, math.MaxInt64),
	}
}

func decodeLV(d *decoder, s *cfgSection, extent int64) LogicalVolume {
	lv := LogicalVolume{Name: s.name, UUID: d.str(s, "id")}
	if st, ok := s.values["status"]; ok {
		lv.Visible = slices.ContainsFunc(st.list, func(v cfgValue) bool { return v.str == "VISIBLE" })
	}
	var extents int64
	for _, ss := range s.sections {
		seg := decodeSegment(d, ss, extent)
		if seg.ExtentCount > math.MaxInt64/extent-extents {
			d.fail("LV %s: size overflows", s.name)
			break
		}
		extents += seg.ExtentCount
		lv.Segments = append(lv.Segments, seg)
	}
	slices.SortFunc(lv.Segments, func(a, b Segment) int { return cmpInt(a.StartExtent, b.StartExtent) })
	lv.Size = extents * extent
	return lv
}

func decodeSegment(d *decoder, s *cfgSection, extent int64) Segment {
	seg := Segment{
		StartExtent: d.num(s, "start_extent", 0, math.MaxInt64/extent),
		ExtentCount: d.num(s, "extent_count", 0, math.MaxInt64/extent),
		Type:        d.str(s, "type"),
	}
	switch seg.Type {
	case "snapshot":
		seg.cowStore = d.optStr(s, "cow_store")
	case "thin-pool":
		seg.PoolMetadata, seg.PoolData = d.str(s, "metadata"), d.str(s, "pool")
		seg.ChunkSize = d.num(s, "chunk_size", 1, math.MaxInt32) * lvmSectorSize
	case "thin":
		seg.ThinPool = d.str(s, "thin_pool")
		seg.DeviceID = d.num(s, "device_id", 0, 1<<24-1) // dm-thin ids are 24 bits
		seg.Origin, seg.ExternalOrigin = d.optStr(s, "origin"), d.optStr(s, "external_origin")
	}
	if seg.Type != "striped" {
		return seg // other types name LVs, not PVs; they cannot be read
	}
	seg.StripeSize = d.optNum(s, "stripe_size", 0, math.MaxInt64/lvmSectorSize) * lvmSectorSize
	n := d.num(s, "stripe_count", 1, math.MaxInt32)
	st := s.values["stripes"].list
	if int64(len(st)) != 2*n {
		d.fail("segment %s: %d stripe values for stripe_count %d", s.name, len(st), n)
		return seg
	}
	for i := 0; i < len(st); i += 2 {
		if st[i].isNum || !st[i+1].isNum || st[i+1].num < 0 {
			d.fail("segment %s: stripe %d is not a PV name and an extent", s.name, i/2)
			return seg
		}
		seg.Stripes = append(seg.Stripes, Stripe{PV: st[i].str, StartExtent: st[i+1].num})
	}
	return seg
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// decoder reads typed values, keeping the first error.
type decoder struct {
	where string
	err   error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = corruptf("LVM metadata, %s: %s", d.where, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) str(s *cfgSection, key string) string {
	v, ok := s.values[key]
	if !ok || v.isNum || v.isArr {
		d.fail("%s: %q missing or not a string", s.name, key)
	}
	return v.str
}

func (d *decoder) optStr(s *cfgSection, key string) string {
	return s.values[key].str
}

func (d *decoder) num(s *cfgSection, key string, lo, hi int64) int64 {
	v, ok := s.values[key]
	if !ok || !v.isNum {
		d.fail("%s: %q missing or not a number", s.name, key)
		return lo
	}
	if v.num < lo || v.num > hi {
		d.fail("%s: %s = %d out of range [%d, %d]", s.name, key, v.num, lo, hi)
		return lo
	}
	return v.num
}

func (d *decoder) optNum(s *cfgSection, key string, lo, hi int64) int64 {
	if _, ok := s.values[key]; !ok {
		return lo
	}
	return d.num(s, key, lo, hi)
}
