package partition

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
)

// maxMetadataText bounds the metadata text read from one area. LVM's default
// area is 1 MiB; a VG with thousands of LVs stays well below this.
const maxMetadataText = 16 << 20

// pvDevice is a scanned physical volume: where it is and what its label says.
type pvDevice struct {
	r     io.ReaderAt
	index int   // position among the devices given to ScanLVM
	size  int64 // bytes
	uuid  string
	data  []diskLocn
	mdas  []diskLocn
}

// metadata is one copy of VG metadata text found in a metadata area.
type metadata struct {
	vg    *VolumeGroup
	where string // "metadata area at byte N of PV <uuid>"
	crc   uint32
}

// ReadLVM reads the volume group of the physical volume r of size bytes (a
// partition or a whole disk). It returns an error wrapping ErrNoLVM when r
// has no LVM2 label. Logical volumes on other PVs of the group cannot be
// opened; use ScanLVM with every PV of the disk for those.
func ReadLVM(r io.ReaderAt, size int64) (*VolumeGroup, error) {
	pv, err := readPVLabel(r, size)
	if err != nil {
		return nil, fmt.Errorf("read LVM: %w", err)
	}
	if pv == nil {
		return nil, fmt.Errorf("read LVM: %w", ErrNoLVM)
	}
	vgs, err := ScanLVM([]*io.SectionReader{io.NewSectionReader(r, 0, size)})
	if err != nil {
		return nil, fmt.Errorf("read LVM: %w", err)
	}
	if len(vgs) == 0 {
		return nil, fmt.Errorf("read LVM: PV %s holds no volume group metadata (an orphan PV, or one whose VG is described only on other PVs)", pv.uuid)
	}
	return vgs[0], nil
}

// ScanLVM looks for LVM2 physical volumes among devs (typically the
// partitions of one disk, or the disk itself) and returns their volume
// groups, each described by its newest metadata (highest seqno). Devices
// without a label are skipped. A damaged metadata area of a PV whose group
// could still be read from another copy is reported in the group's
// Warnings; other damage makes ScanLVM return an error, along with the
// groups it could read.
func ScanLVM(devs []*io.SectionReader) ([]*VolumeGroup, error) {
	byVG := map[string][]metadata{}
	pvs := map[string]*pvDevice{}
	areaErrs := map[string][]error{} // by PV UUID
	var order []string               // VG UUIDs in the order found
	var errs []error
	for i, d := range devs {
		pv, err := readPVLabel(d, d.Size())
		if err != nil {
			errs = append(errs, fmt.Errorf("device %d: %w", i, err))
			continue
		}
		if pv == nil {
			continue
		}
		pv.index = i
		pvs[pv.uuid] = pv
		mds, aerrs := pv.readMetadata()
		for _, err := range aerrs {
			areaErrs[pv.uuid] = append(areaErrs[pv.uuid], fmt.Errorf("device %d: %w", i, err))
		}
		for _, md := range mds {
			if _, ok := byVG[md.vg.UUID]; !ok {
				order = append(order, md.vg.UUID)
			}
			byVG[md.vg.UUID] = append(byVG[md.vg.UUID], md)
		}
	}
	var vgs []*VolumeGroup
	for _, id := range order {
		vg := newestVG(byVG[id], pvs)
		for _, pv := range vg.PVs {
			for _, err := range areaErrs[pv.UUID] {
				vg.Warnings = append(vg.Warnings, err.Error())
			}
			delete(areaErrs, pv.UUID)
		}
		vgs = append(vgs, vg)
	}
	for _, uuid := range slices.Sorted(maps.Keys(areaErrs)) {
		errs = append(errs, areaErrs[uuid]...)
	}
	return vgs, errors.Join(errs...)
}

// newestVG picks the copy with the highest seqno and attaches the devices.
func newestVG(mds []metadata, pvs map[string]*pvDevice) *VolumeGroup {
	best := mds[0]
	for _, md := range mds[1:] {
		if md.vg.Seqno > best.vg.Seqno {
			best = md
		}
	}
	vg := best.vg
	for _, md := range mds {
		switch {
		case md.vg.Seqno < vg.Seqno:
			vg.Warnings = append(vg.Warnings, fmt.Sprintf("%s holds older metadata (seqno %d < %d)", md.where, md.vg.Seqno, vg.Seqno))
		case md.crc != best.crc:
			vg.Warnings = append(vg.Warnings, fmt.Sprintf("%s holds different metadata with the same seqno %d", md.where, vg.Seqno))
		}
	}
	vg.devs = map[string]*pvDevice{}
	for i := range vg.PVs {
		if d, ok := pvs[vg.PVs[i].UUID]; ok {
			vg.PVs[i].Found = true
			vg.devs[vg.PVs[i].UUID] = d
		}
	}
	return vg
}

// readPVLabel looks for the LVM2 label in the first four sectors. It returns
// nil, nil when there is none.
func readPVLabel(r io.ReaderAt, size int64) (*pvDevice, error) {
	n := int64(lvmLabelScan * lvmSectorSize)
	if size < n {
		return nil, nil
	}
	b, err := readAt(r, 0, int(n), "LVM label sectors")
	if err != nil {
		return nil, err
	}
	for s := 0; s < lvmLabelScan; s++ {
		sector := b[s*lvmSectorSize : (s+1)*lvmSectorSize]
		if string(sector[:8]) != lvmLabelID {
			continue
		}
		return decodePVLabel(sector, s, r, size)
	}
	return nil, nil
}

// decodePVLabel checks the label in sector s and decodes its pv_header.
func decodePVLabel(sector []byte, s int, r io.ReaderAt, size int64) (*pvDevice, error) {
	off := s * lvmSectorSize
	h := decodeLabelHeader(sector)
	switch {
	case h.Sector != uint64(s):
		return nil, corruptf("LVM label at byte %d: says it is in sector %d", off, h.Sector)
	case h.CRC != h.computed:
		return nil, corruptf("LVM label at byte %d: CRC %#08x, label says %#08x", off, h.computed, h.CRC)
	case string(h.Type[:]) != lvmLabelType:
		return nil, unsupportedf("LVM label at byte %d: type %q, want %q", off, h.Type[:], lvmLabelType)
	case h.Offset < lvmLabelHdrSize || h.Offset >= lvmSectorSize:
		return nil, corruptf("LVM label at byte %d: pv_header offset %d", off, h.Offset)
	}
	ph, ok := decodePVHeader(sector[h.Offset:])
	if !ok {
		return nil, corruptf("LVM pv_header at byte %d: area lists run past the sector", off+int(h.Offset))
	}
	pv := &pvDevice{r: r, size: size, uuid: formatLVMUUID(ph.UUID), data: ph.Data, mdas: ph.Metadata}
	if ph.DeviceSize > uint64(size) {
		return nil, corruptf("LVM pv_header at byte %d: device size %d larger than the %d-byte device", off+int(h.Offset), ph.DeviceSize, size)
	}
	return pv, nil
}

// formatLVMUUID inserts dashes the way LVM prints UUIDs (6-4-4-4-4-4-6).
func formatLVMUUID(id string) string {
	if len(id) != lvmIDLen {
		return id
	}
	var b strings.Builder
	for i, n := range []int{6, 4, 4, 4, 4, 4, 6} {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(id[:n])
		id = id[n:]
	}
	return b.String()
}

// readMetadata reads the VG metadata of every metadata area of the PV. An
// area marked ignored, or unused, is skipped. It returns what it could read
// and an error for each area it could not.
func (pv *pvDevice) readMetadata() ([]metadata, []error) {
	var mds []metadata
	var errs []error
	for _, a := range pv.mdas {
		text, crc, err := pv.readMDA(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("PV %s: %w", pv.uuid, err))
			continue
		}
		if text == nil {
			continue
		}
		where := fmt.Sprintf("metadata area at byte %d of PV %s", a.Offset, pv.uuid)
		root, err := parseConfig(text)
		if err == nil {
			var vg *VolumeGroup
			if vg, err = decodeVG(root); err == nil {
				mds = append(mds, metadata{vg: vg, where: where, crc: crc})
				continue
			}
		}
		errs = append(errs, fmt.Errorf("%s: %w", where, err))
	}
	return mds, errs
}

// readMDA reads the committed metadata text of area a; nil text means the
// area holds none.
func (pv *pvDevice) readMDA(a diskLocn) ([]byte, uint32, error) {
	if a.Size < lvmMDAHeaderLen || a.Offset > uint64(pv.size) || a.Size > uint64(pv.size)-a.Offset {
		return nil, 0, corruptf("metadata area at byte %d (%d bytes) does not fit the %d-byte PV", a.Offset, a.Size, pv.size)
	}
	b, err := readAt(pv.r, int64(a.Offset), lvmMDAHeaderLen, "LVM mda_header")
	if err != nil {
		return nil, 0, err
	}
	h := decodeMDAHeader(b)
	if err := checkMDAHeader(h, a); err != nil {
		return nil, 0, err
	}
	if h.Locn.Offset == 0 || h.Locn.Flags&lvmRawLocnIgn != 0 {
		return nil, 0, nil
	}
	return pv.readMDAText(h, a)
}

func checkMDAHeader(h mdaHeader, a diskLocn) error {
	switch {
	case h.Checksum != h.computed:
		return corruptf("mda_header at byte %d: CRC %#08x, header says %#08x", a.Offset, h.computed, h.Checksum)
	case string(h.Magic[:]) != lvmMDAMagic:
		return corruptf("mda_header at byte %d: bad magic %q", a.Offset, h.Magic[:])
	case h.Version != lvmMDAVersion:
		return unsupportedf("mda_header at byte %d: version %d", a.Offset, h.Version)
	case h.Start != a.Offset || h.Size != a.Size:
		return corruptf("mda_header at byte %d: says it covers %d bytes at %d, label says %d at %d", a.Offset, h.Size, h.Start, a.Size, a.Offset)
	}
	return nil
}

// readMDAText reads the text the raw_locn points at. The area after the
// header is a ring buffer: text running past its end continues right after
// the header.
func (pv *pvDevice) readMDAText(h mdaHeader, a diskLocn) ([]byte, uint32, error) {
	l := h.Locn
	ring := a.Size - lvmMDAHeaderLen
	if l.Offset < lvmMDAHeaderLen || l.Offset >= a.Size || l.Size > ring || l.Size > maxMetadataText {
		return nil, 0, corruptf("mda_header at byte %d: metadata text of %d bytes at offset %d does not fit the %d-byte area", a.Offset, l.Size, l.Offset, a.Size)
	}
	first := min(l.Size, a.Size-l.Offset)
	text, err := readAt(pv.r, int64(a.Offset+l.Offset), int(first), "LVM metadata text")
	if err != nil {
		return nil, 0, err
	}
	if rest := l.Size - first; rest > 0 {
		wrapped, err := readAt(pv.r, int64(a.Offset+lvmMDAHeaderLen), int(rest), "LVM metadata text (wrapped)")
		if err != nil {
			return nil, 0, err
		}
		text = append(text, wrapped...)
	}
	if crc := lvmCRC(text); crc != l.Checksum {
		return nil, 0, corruptf("metadata text at byte %d of area at %d: CRC %#08x, mda_header says %#08x", l.Offset, a.Offset, crc, l.Checksum)
	}
	return text, l.Checksum, nil
}

// lvReader maps LV offsets to PV offsets through linear segments.
type lvReader struct {
	segs []lvSegment // sorted, contiguous from 0
}

// lvSegment is a byte range [start, end) of the LV stored at off on dev.
type lvSegment struct {
	start, end int64
	dev        io.ReaderAt
	devIndex   int
	off        int64
}

var _ io.ReaderAt = (*lvReader)(nil)

// ReadAt reads from the segments covering [off, off+len(p)).
func (l *lvReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read LV at negative offset %d", off)
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].end > pos })
		if i == len(l.segs) {
			return n, io.EOF
		}
		s := l.segs[i]
		chunk := p[n : n+int(min(s.end-pos, int64(len(p)-n)))]
		m, err := s.dev.ReadAt(chunk, s.off+pos-s.start)
		n += m
		if err != nil && !(err == io.EOF && m == len(chunk)) {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, fmt.Errorf("read LV at byte %d (PV byte %d): %w", pos, s.off+pos-s.start, err)
		}
	}
	return n, nil
}
