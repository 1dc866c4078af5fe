package partition

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fixturePV returns a copy of partition n of the committed LVM image, the
// first metadata area its label lists, and the VG ScanLVM reads from the
// untouched image.
func fixturePV(t *testing.T, n int) ([]byte, diskLocn, *VolumeGroup) {
	t.Helper()
	img := gunzip(t, filepath.Join("testdata", "lvm.img.gz"))
	tab, err := Read(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	var devs []*io.SectionReader
	for _, p := range tab.Partitions {
		devs = append(devs, p.Section(bytes.NewReader(img)))
	}
	vgs, err := ScanLVM(devs)
	if err != nil {
		t.Fatal(err)
	}
	p := byIndex(tab, n)
	pv := bytes.Clone(img[p.Start : p.Start+p.Size])
	dev, err := readPVLabel(bytes.NewReader(pv), int64(len(pv)))
	if err != nil || dev == nil {
		t.Fatalf("no PV label on p%d: %v", n, err)
	}
	return pv, dev.mdas[0], vgs[0]
}

// setRawLocn points the first raw_locn of the area at text (already in
// place) and fixes the mda_header checksum.
func setRawLocn(pv []byte, a diskLocn, off, size uint64, crc uint32) {
	h := pv[a.Offset : a.Offset+lvmMDAHeaderLen]
	binary.LittleEndian.PutUint64(h[40:], off)
	binary.LittleEndian.PutUint64(h[48:], size)
	binary.LittleEndian.PutUint32(h[56:], crc)
	binary.LittleEndian.PutUint32(h[0:], lvmCRC(h[4:]))
}

func currentText(pv []byte, a diskLocn) []byte {
	h := decodeMDAHeader(pv[a.Offset:])
	return bytes.Clone(pv[a.Offset+h.Locn.Offset:][:h.Locn.Size])
}

// TestMDAWrap moves the real metadata text of p2 so that it wraps around
// the end of the ring buffer, continuing right after the mda_header.
func TestMDAWrap(t *testing.T) {
	pv, a, want := fixturePV(t, 2)
	text := currentText(pv, a)
	tail := uint64(100) // bytes before the end of the area
	clear(pv[a.Offset+lvmMDAHeaderLen : a.Offset+a.Size])
	copy(pv[a.Offset+a.Size-tail:], text[:tail])
	copy(pv[a.Offset+lvmMDAHeaderLen:], text[tail:])
	setRawLocn(pv, a, a.Size-tail, uint64(len(text)), lvmCRC(text))

	vg, err := ReadLVM(bytes.NewReader(pv), int64(len(pv)))
	if err != nil {
		t.Fatal(err)
	}
	if vg.Seqno != want.Seqno || len(vg.LVs) != len(want.LVs) || vg.UUID != want.UUID {
		t.Errorf("wrapped text gives VG %s seqno %d with %d LVs, want %s %d %d", vg.UUID, vg.Seqno, len(vg.LVs), want.UUID, want.Seqno, len(want.LVs))
	}

	pv[a.Offset+lvmMDAHeaderLen+10] ^= 1 // damage the wrapped part
	if _, err := ReadLVM(bytes.NewReader(pv), int64(len(pv))); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "CRC") {
		t.Errorf("damaged wrapped text: %v, want a CRC error", err)
	}
}

// TestNewestSeqno points p1's first metadata area at an older copy of the
// metadata still in its ring buffer; the second area (at the end of p1)
// holds the newest, which must win.
func TestNewestSeqno(t *testing.T) {
	pv, a, want := fixturePV(t, 1)
	ring := pv[a.Offset : a.Offset+a.Size]
	var off, size uint64
	for _, m := range regexp.MustCompile(`(?s)vgt \{.*?seqno = (\d+)[^\x00]*\x00`).FindAllSubmatchIndex(ring, -1) {
		if string(ring[m[2]:m[3]]) == "7" {
			off, size = uint64(m[0]), uint64(m[1]-m[0])
		}
	}
	if size == 0 || want.Seqno != 8 {
		t.Fatalf("fixture: no seqno 7 copy in the ring, or newest is %d, not 8", want.Seqno)
	}
	setRawLocn(pv, a, off, size, lvmCRC(ring[off:off+size]))
	vg, err := ReadLVM(bytes.NewReader(pv), int64(len(pv)))
	if err != nil {
		t.Fatal(err)
	}
	if vg.Seqno != 8 || len(vg.Warnings) != 1 || !strings.Contains(vg.Warnings[0], "older metadata (seqno 7 < 8)") {
		t.Errorf("seqno %d, warnings %q", vg.Seqno, vg.Warnings)
	}
	if vg.LV("striped") == nil {
		t.Errorf("LV striped (created in seqno 8) missing")
	}
}

// TestLVMDamaged breaks the label and header of a real PV.
func TestLVMDamaged(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(pv []byte, a diskLocn)
		want   string
	}{
		{"label CRC", func(pv []byte, a diskLocn) { pv[512+40] ^= 1 }, "LVM label at byte 512: CRC"},
		{"mda_header CRC", func(pv []byte, a diskLocn) { pv[a.Offset+5] ^= 1 }, "mda_header at byte 4096: CRC"},
		{"text beyond area", func(pv []byte, a diskLocn) { setRawLocn(pv, a, a.Size-10, a.Size, 0) }, "does not fit"},
		{"text syntax", func(pv []byte, a diskLocn) {
			text := currentText(pv, a)
			i := bytes.IndexByte(text, '{')
			text[i] = '('
			copy(pv[a.Offset+decodeMDAHeader(pv[a.Offset:]).Locn.Offset:], text)
			setRawLocn(pv, a, decodeMDAHeader(pv[a.Offset:]).Locn.Offset, uint64(len(text)), lvmCRC(text))
		}, "LVM metadata line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pv, a, _ := fixturePV(t, 2)
			tc.break_(pv, a)
			_, err := ReadLVM(bytes.NewReader(pv), int64(len(pv)))
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrCorrupt containing %q", err, tc.want)
			}
		})
	}
}

// TestLVMOneAreaDamaged breaks the first of p1's two metadata areas: the
// second still describes the VG, and the damage becomes a warning.
func TestLVMOneAreaDamaged(t *testing.T) {
	pv, a, want := fixturePV(t, 1)
	pv[a.Offset+5] ^= 1
	vg, err := ReadLVM(bytes.NewReader(pv), int64(len(pv)))
	if err != nil {
		t.Fatal(err)
	}
	if vg.Seqno != want.Seqno || len(vg.Warnings) != 1 || !strings.Contains(vg.Warnings[0], "mda_header at byte 4096: CRC") {
		t.Errorf("seqno %d (want %d), warnings %q", vg.Seqno, want.Seqno, vg.Warnings)
	}
}

// TestLVMUnsupportedTypes checks the errors for LV kinds that cannot be read,
// on metadata in the form lvcreate writes for them.
func TestLVMUnsupportedTypes(t *testing.T) {
	text := `vg {
id = "vgid"
seqno = 3
extent_size = 8192
physical_volumes {
pv0 {
id = "pvid"
pe_start = 2048
pe_count = 100
}
}
logical_volumes {
pool {
id = "a"
status = ["READ", "WRITE", "VISIBLE"]
segment1 { start_extent = 0 extent_count = 1 type = "thin-pool" metadata = "pool_tmeta" pool = "pool_tdata" chunk_size = 128 }
}
thin1 {
id = "b"
status = ["READ", "WRITE", "VISIBLE"]
segment1 { start_extent = 0 extent_count = 10 type = "thin" thin_pool = "pool" device_id = 1 }
}
thin2 {
id = "b2"
status = ["READ", "WRITE", "VISIBLE"]
segment1 { start_extent = 0 extent_count = 10 type = "thin" thin_pool = "pool" device_id = 2 external_origin = "origin" }
}
mirror {
id = "c"
status = ["VISIBLE"]
segment1 { start_extent = 0 extent_count = 1 type = "raid1" device_count = 2 raids = ["m_rmeta_0", "m_rimage_0"] }
}
origin {
id = "d"
status = ["VISIBLE"]
segment1 { start_extent = 0 extent_count = 1 type = "striped" stripe_count = 1 stripes = ["pv0", 0] }
}
snap {
id = "e"
status = ["VISIBLE"]
segment1 { start_extent = 0 extent_count = 1 type = "striped" stripe_count = 1 stripes = ["pv0", 1] }
}
snapshot0 {
id = "f"
status = []
segment1 { start_extent = 0 extent_count = 1 type = "snapshot" chunk_size = 8 origin = "origin" cow_store = "snap" }
}
}
}
`
	root, err := parseConfig([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	vg, err := decodeVG(root)
	if err != nil {
		t.Fatal(err)
	}
	vg.devs = map[string]*pvDevice{"pvid": {r: &sparseDisk{size: 1 << 30}, size: 1 << 30}}
	for name, want := range map[string]string{
		"pool":   "unsupported: thin-pool LV vg/pool",
		"thin2":  "unsupported: thin LV vg/thin2 with external origin \"origin\"",
		"mirror": "unsupported: raid1 LV vg/mirror",
		"snap":   "unsupported: snapshot LV vg/snap",
	} {
		if _, err := vg.Open(name); !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%s): %v, want %q", name, err, want)
		}
	}
	if _, err := vg.Open("origin"); err != nil {
		t.Errorf("Open(origin): %v", err)
	}
	if _, err := vg.Open("thin1"); err == nil || !strings.Contains(err.Error(), "thin pool vg/pool metadata: open LV vg/pool_tmeta: no such logical volume") {
		t.Errorf("Open(thin1) without the pool's metadata LV: %v", err)
	}
}
