package image

import (
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// variants are the mkvariant.sh names and the Format() each must report.
var variants = []struct{ name, format string }{
	{"vmdk-monolithicSparse", "vmdk-monolithicSparse"},
	{"vmdk-monolithicSparse-zeroed", "vmdk-monolithicSparse"},
	{"vmdk-streamOptimized", "vmdk-streamOptimized"},
	{"vmdk-monolithicFlat", "vmdk-monolithicFlat"},
	{"vmdk-twoGbMaxExtentSparse", "vmdk-twoGbMaxExtentSparse"},
	{"vmdk-twoGbMaxExtentFlat", "vmdk-twoGbMaxExtentFlat"},
	{"vmdk-vmfs", "vmdk-vmfs"},
	{"qcow2-v2", "qcow2"},
	{"qcow2-v3", "qcow2"},
	{"qcow2-v2-compressed", "qcow2"},
	{"qcow2-v3-compressed", "qcow2"},
	{"qcow2-v3-512", "qcow2"},
	{"qcow2-v3-2M", "qcow2"},
	{"qcow2-v3-extl2", "qcow2"},
	{"qcow2-v3-extl2-compressed", "qcow2"},
	{"vhd-fixed", "vhd-fixed"},
	{"vhd-dynamic", "vhd-dynamic"},
	{"vhd-dynamic-force", "vhd-dynamic"},
	{"vhdx-fixed", "vhdx-fixed"},
	{"vhdx-dynamic", "vhdx-dynamic"},
	{"vhdx-dynamic-1M", "vhdx-dynamic"},
}

var refOnce struct {
	sync.Once
	path string
	err  string
}

// refImage builds the mixed-content reference raw disk once per run.
func refImage(t *testing.T) string {
	t.Helper()
	testenv.NeedTools(t, "qemu-img")
	refOnce.Do(func() {
		dir, err := osMkdirTemp()
		if err != nil {
			refOnce.err = err.Error()
			return
		}
		refOnce.path = filepath.Join(dir, "ref.raw")
		run(t, script("mkref.sh"), refOnce.path)
	})
	if refOnce.err != "" {
		t.Fatal(refOnce.err)
	}
	return refOnce.path
}

func TestFormats(t *testing.T) {
	ref := refImage(t)
	t.Run("raw", func(t *testing.T) {
		testImage(t, ref, "raw", "raw")
	})
	t.Run("vmdk-streamOptimized-vmware-layout", func(t *testing.T) {
		qimg := filepath.Join(t.TempDir(), "qemu.vmdk")
		run(t, script("mkvariant.sh"), "vmdk-streamOptimized", ref, qimg)
		img := filepath.Join(t.TempDir(), "vmware.vmdk")
		toVMwareStream(t, qimg, img)
		testImage(t, img, "", "vmdk-streamOptimized")
	})
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), v.name+".img")
			run(t, script("mkvariant.sh"), v.name, ref, img)
			testImage(t, img, "", v.format)
		})
	}
}

// testImage opens img, compares it with qemu-img's raw conversion and its
// allocation with qemu-img map.
func testImage(t *testing.T, img, qfmt, format string) {
	t.Helper()
	d, err := Open(img)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer d.Close()
	if format != "" && d.Format() != format {
		t.Errorf("Format() = %q, want %q", d.Format(), format)
	}
	if qfmt == "" && format == "vhd-fixed" {
		qfmt = "vpc" // qemu-img probes a fixed VHD as raw, footer and all
	}
	alloc := compareDisk(t, d, oracleRaw(t, img, qfmt))
	want := qemuMap(t, img, qfmt)
	if strings.HasPrefix(format, "vhd") {
		// qemu-img map gives whole VHD blocks (and every VHDX block) as
		// data; Allocated also leaves out unmarked sectors and holes.
		if !within(alloc, want) {
			t.Errorf("Allocated() reaches outside qemu-img map:\n got %s\nwant within %s", fmtExtents(alloc), fmtExtents(want))
		}
		return
	}
	if !slices.Equal(alloc, want) {
		t.Errorf("Allocated() differs from qemu-img map:\n got %s\nwant %s", fmtExtents(alloc), fmtExtents(want))
	}
}

// within reports whether every extent of a lies inside one of sorted,
// coalesced b.
func within(a, b []Extent) bool {
	for _, e := range a {
		i := sort.Search(len(b), func(i int) bool { return b[i].Off+b[i].Len > e.Off })
		if i == len(b) || b[i].Off > e.Off || b[i].Off+b[i].Len < e.Off+e.Len {
			return false
		}
	}
	return true
}
