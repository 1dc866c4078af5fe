package partition

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// lvmReport is what vgs, pvs and lvs --segments said about the image
// (the OUT.lvs file of testimages/partition/lvm.sh).
type lvmReport struct {
	vgName, vgUUID string
	extent, seqno  int64
	pvCount, lvCnt int
	pvs            map[string]reportPV // by partition name, "p1"
	segs           []reportSeg
}

type reportPV struct {
	uuid                     string
	devSize, peStart, pe, md int64
}

type reportSeg struct {
	lv, uuid, segtype string
	size, start, n    int64 // LV bytes; segment start and size in extents
	ranges            []string
}

func parseLVMReport(t *testing.T, text string) lvmReport {
	t.Helper()
	r := lvmReport{pvs: map[string]reportPV{}}
	num := func(s string) int64 {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("report number %q: %v", s, err)
		}
		return n
	}
	var table string
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case f[0] == "VG" && f[1] == "VG":
			table = "vgs"
		case f[0] == "PV":
			table = "pvs"
		case f[0] == "VG" && f[1] == "LV":
			table = "lvs"
		case table == "vgs":
			r.vgName, r.vgUUID, r.extent, r.seqno = f[0], f[1], num(f[2]), num(f[3])
			r.pvCount, r.lvCnt = int(num(f[4])), int(num(f[5]))
		case table == "pvs":
			r.pvs[f[0]] = reportPV{f[1], num(f[2]), num(f[3]), num(f[4]), num(f[5])}
		case table == "lvs":
			r.segs = append(r.segs, reportSeg{lv: f[1], uuid: f[2], size: num(f[3]), segtype: f[4],
				start: num(f[6]), n: num(f[7]), ranges: f[8:]})
		}
	}
	if r.vgName == "" || len(r.pvs) == 0 || len(r.segs) == 0 {
		t.Fatalf("incomplete LVM report:\n%s", text)
	}
	return r
}

// TestLVMFixture reads the committed image made by lvm.sh and compares it
// with the vgs/pvs/lvs report made with it.
func TestLVMFixture(t *testing.T) {
	img := gunzipFixture(t, "lvm.img.gz")
	report, err := os.ReadFile(filepath.Join("testdata", "lvm.img.lvs"))
	if err != nil {
		t.Fatal(err)
	}
	checkLVM(t, img, string(report))
}

// TestLVMBuild builds a fresh image with the LVM tools (root and loop
// devices needed) and compares it with their live report.
func TestLVMBuild(t *testing.T) {
	testenv.NeedTools(t, "lvm", "losetup", "sgdisk", "mke2fs", "debugfs")
	testenv.NeedRoot(t) // lvm.sh needs loop devices
	img := buildImage(t, "lvm.sh")
	report, err := os.ReadFile(img + ".lvs")
	if err != nil {
		t.Fatal(err)
	}
	checkLVM(t, img, string(report))
}

func checkLVM(t *testing.T, img, reportText string) {
	rep := parseLVMReport(t, reportText)
	tab, disk := readImage(t, img)
	if tab.Scheme != "gpt" || len(tab.Partitions) != 2 {
		t.Fatalf("disk: scheme %s, %d partitions; want gpt with 2", tab.Scheme, len(tab.Partitions))
	}
	parts := map[string]*io.SectionReader{}
	var devs []*io.SectionReader
	for _, p := range tab.Partitions {
		s := p.Section(disk)
		parts[fmt.Sprintf("p%d", p.Index)] = s
		devs = append(devs, s)
	}
	vgs, err := ScanLVM(devs)
	if err != nil || len(vgs) != 1 {
		t.Fatalf("ScanLVM: %d VGs, %v", len(vgs), err)
	}
	if pt, err := Read(devs[0], devs[0].Size()); err != nil || pt.Scheme != "none" {
		t.Errorf("Read on a PV: %+v, %v; want scheme none", pt, err)
	}
	vg := vgs[0]
	if vg.Name != rep.vgName || vg.UUID != rep.vgUUID || vg.ExtentSize != rep.extent || vg.Seqno != rep.seqno || len(vg.PVs) != rep.pvCount {
		t.Errorf("VG %s %s extent %d seqno %d %d PVs; vgs says %s %s %d %d %d", vg.Name, vg.UUID, vg.ExtentSize, vg.Seqno, len(vg.PVs), rep.vgName, rep.vgUUID, rep.extent, rep.seqno, rep.pvCount)
	}
	if len(vg.Warnings) != 0 {
		t.Errorf("warnings: %q", vg.Warnings)
	}
	pvName := map[string]string{} // metadata name (pv0) -> partition (p1)
	for part, rp := range rep.pvs {
		for _, pv := range vg.PVs {
			if pv.UUID == rp.uuid {
				pvName[pv.Name] = part
				if pv.PEStart != rp.peStart || pv.PECount != rp.pe || !pv.Found {
					t.Errorf("PV %s: pe_start %d, %d extents, found %v; pvs says %d, %d", part, pv.PEStart, pv.PECount, pv.Found, rp.peStart, rp.pe)
				}
			}
		}
	}
	if len(pvName) != len(rep.pvs) {
		t.Errorf("PVs %+v do not match pvs report %+v", vg.PVs, rep.pvs)
	}
	visible := 0
	for _, lv := range vg.LVs {
		if lv.Visible {
			visible++
		}
	}
	if visible != rep.lvCnt {
		t.Errorf("%d visible LVs, vgs says %d", visible, rep.lvCnt)
	}
	checkSegments(t, vg, rep, pvName)
	for lvName := range lvNames(rep) {
		t.Run(lvName, func(t *testing.T) { checkLVContents(t, vg, lvName, rep, parts) })
	}

	// One PV alone: LVs on it open, LVs reaching the other PV do not.
	vg1, err := ReadLVM(parts["p1"], parts["p1"].Size())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vg1.Open("lin1"); err != nil {
		t.Errorf("lin1 from p1 alone: %v", err)
	}
	if _, err := vg1.Open("span"); !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "vgt/span") {
		t.Errorf("span from p1 alone: %v, want an unsupported error naming vgt/span", err)
	}
	if _, err := ReadLVM(disk, 1<<20); !errors.Is(err, ErrNoLVM) {
		t.Errorf("ReadLVM on the disk itself: %v, want ErrNoLVM", err)
	}
}

func lvNames(rep lvmReport) map[string]bool {
	m := map[string]bool{}
	for _, s := range rep.segs {
		m[s.lv] = true
	}
	return m
}

// checkSegments compares every LV's segment map with lvs --segments.
func checkSegments(t *testing.T, vg *VolumeGroup, rep lvmReport, pvName map[string]string) {
	t.Helper()
	count := map[string]int{}
	for _, rs := range rep.segs {
		lv := vg.LV(rs.lv)
		if lv == nil {
			t.Errorf("LV %s missing", rs.lv)
			continue
		}
		i := count[rs.lv]
		count[rs.lv]++
		if lv.UUID != rs.uuid || lv.Size != rs.size || i >= len(lv.Segments) {
			t.Errorf("LV %s: uuid %s size %d %d segments; lvs says %s %d", lv.Name, lv.UUID, lv.Size, len(lv.Segments), rs.uuid, rs.size)
			continue
		}
		seg := lv.Segments[i]
		var ranges []string
		for _, st := range seg.Stripes {
			ranges = append(ranges, fmt.Sprintf("%s:%d-%d", pvName[st.PV], st.StartExtent, st.StartExtent+seg.ExtentCount/int64(len(seg.Stripes))-1))
		}
		wantType := rs.segtype
		if wantType == "linear" {
			wantType = "striped" // lvs calls one stripe "linear"
		}
		if seg.StartExtent != rs.start || seg.ExtentCount != rs.n || seg.Type != wantType || strings.Join(ranges, " ") != strings.Join(rs.ranges, " ") {
			t.Errorf("LV %s segment %d: %d+%d %s %v; lvs says %d+%d %s %v", lv.Name, i, seg.StartExtent, seg.ExtentCount, seg.Type, ranges, rs.start, rs.n, rs.segtype, rs.ranges)
		}
	}
	for _, lv := range vg.LVs {
		if count[lv.Name] != len(lv.Segments) {
			t.Errorf("LV %s: %d segments, lvs says %d", lv.Name, len(lv.Segments), count[lv.Name])
		}
	}
}

// checkLVContents reads a whole LV through Open and compares it with the PV
// bytes at the extents lvs reported, then with what lvm.sh wrote into it.
func checkLVContents(t *testing.T, vg *VolumeGroup, name string, rep lvmReport, parts map[string]*io.SectionReader) {
	r, err := vg.Open(name)
	if name == "striped" {
		if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "unsupported: striped LV vgt/striped") {
			t.Errorf("Open(striped): %v, want unsupported striped LV", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	got := make([]byte, r.Size())
	if _, err := r.ReadAt(got, 0); err != nil {
		t.Fatalf("ReadAt: %v", err)
	}
	var want []byte
	for _, rs := range rep.segs {
		if rs.lv != name {
			continue
		}
		if len(rs.ranges) != 1 {
			t.Fatalf("segment with %d ranges", len(rs.ranges))
		}
		part, ext, _ := strings.Cut(rs.ranges[0], ":")
		first, _, _ := strings.Cut(ext, "-")
		pe, _ := strconv.ParseInt(first, 10, 64)
		b := make([]byte, rs.n*rep.extent)
		if _, err := parts[part].ReadAt(b, rep.pvs[part].peStart+pe*rep.extent); err != nil {
			t.Fatal(err)
		}
		want = append(want, b...)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("LV contents differ from the PV extents lvs reports")
	}
	// A read across the segment boundaries, at an odd offset.
	if len(got) > 3*int(rep.extent) {
		b := make([]byte, 2*rep.extent+3)
		if _, err := r.ReadAt(b, rep.extent-1); err != nil || !bytes.Equal(b, got[rep.extent-1:][:len(b)]) {
			t.Errorf("ReadAt across segments: %v", err)
		}
	}
	switch name {
	case "lin1":
		checkExt4(t, got)
	default:
		for n := 0; n*4096 < len(got); n++ {
			block := got[n*4096 : (n+1)*4096]
			text := fmt.Sprintf("vgt/%s block %d\n", name, n)
			if !bytes.Equal(block, append([]byte(text), make([]byte, 4096-len(text))...)) {
				t.Fatalf("block %d of %s: %q, want %q", n, name, bytes.TrimRight(block[:64], "\x00"), text)
			}
		}
	}
}

// checkExt4 runs debugfs on the LV's bytes read through our reader.
func checkExt4(t *testing.T, lv []byte) {
	if _, err := exec.LookPath("debugfs"); err != nil {
		testenv.NeedTools(t, "debugfs")
	}
	f := filepath.Join(t.TempDir(), "lin1.img")
	if err := os.WriteFile(f, lv, 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/hello.txt":      "hello from vgt/lin1\n",
		"/dir/nested.txt": "nested file in lin1\n",
	} {
		if got := run(t, "debugfs", "-R", "cat "+path, f); got != want {
			t.Errorf("debugfs cat %s: %q, want %q", path, got, want)
		}
	}
}

// TestLVConcurrent reads one LV from many goroutines at once; run with -race.
func TestLVConcurrent(t *testing.T) {
	img := gunzipFixture(t, "lvm.img.gz")
	tab, disk := readImage(t, img)
	var devs []*io.SectionReader
	for _, p := range tab.Partitions {
		devs = append(devs, p.Section(disk))
	}
	vgs, err := ScanLVM(devs)
	if err != nil {
		t.Fatal(err)
	}
	r, err := vgs[0].Open("span")
	if err != nil {
		t.Fatal(err)
	}
	whole := make([]byte, r.Size())
	if _, err := r.ReadAt(whole, 0); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			b := make([]byte, 5000)
			for i := 0; i < 200; i++ {
				off := int64((g*7919 + i*104729) % (len(whole) - len(b)))
				if _, err := r.ReadAt(b, off); err != nil || !bytes.Equal(b, whole[off:off+int64(len(b))]) {
					errs <- fmt.Errorf("read at %d: %v (or data differ)", off, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestLVLayout checks that Layout places every byte of each LV where Open
// reads it from (Open's content is checked against debugfs above).
func TestLVLayout(t *testing.T) {
	img := gunzipFixture(t, "lvm.img.gz")
	tab, disk := readImage(t, img)
	var devs []*io.SectionReader
	for _, p := range tab.Partitions {
		devs = append(devs, p.Section(disk))
	}
	vgs, err := ScanLVM(devs)
	if err != nil {
		t.Fatal(err)
	}
	multi, nonzero := false, 0
	for _, lv := range vgs[0].LVs {
		if !lv.Visible {
			continue
		}
		r, err := vgs[0].Open(lv.Name)
		if err != nil {
			continue // refused kinds are tested elsewhere
		}
		pieces, err := vgs[0].Layout(lv.Name)
		if err != nil {
			t.Fatalf("%s: %v", lv.Name, err)
		}
		multi = multi || len(pieces) > 1
		var next int64
		for _, p := range pieces {
			if p.Offset != next || p.Device < 0 || p.Device >= len(devs) {
				t.Fatalf("%s: piece %+v after %d bytes", lv.Name, p, next)
			}
			for _, off := range []int64{0, p.Length / 2, p.Length - 4096} {
				want := make([]byte, 4096)
				got := make([]byte, 4096)
				if _, err := r.ReadAt(want, p.Offset+off); err != nil {
					t.Fatal(err)
				}
				if _, err := devs[p.Device].ReadAt(got, p.DeviceOffset+off); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(want, make([]byte, len(want))) {
					nonzero++
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s: LV byte %d is not at device %d byte %d", lv.Name, p.Offset+off, p.Device, p.DeviceOffset+off)
				}
			}
			next += p.Length
		}
		if next != r.Size() {
			t.Errorf("%s: pieces cover %d bytes of %d", lv.Name, next, r.Size())
		}
	}
	if !multi || nonzero == 0 {
		t.Errorf("the fixture has no LV of several segments (%v) or only zeros were compared (%d): the test proves little", multi, nonzero)
	}
}
