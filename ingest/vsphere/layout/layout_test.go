package layout

import (
	"errors"
	"fmt"
	"testing"

	"github.com/vmarchive/vmarchive/ingest/image/vmdk"
)

var layoutSeeds = []string{
	fmt.Sprintf("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"vmfs\"\nRW %d VMFS \"a-flat.vmdk\"\n", 2048),
	"# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\ncreateType=\"twoGbMaxExtentFlat\"\nRW 1024 FLAT \"a-f001.vmdk\" 0\nRW 512 ZERO\nRW 1024 FLAT \"a-f002.vmdk\" 8\n",
	"# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=2\ncreateType=\"vmfsSparse\"\nparentFileNameHint=\"a.vmdk\"\nRW 2048 VMFSSPARSE \"a-delta.vmdk\"\n",
	"# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\ncreateType=\"vmfsPassthroughRawDeviceMap\"\nRW 2048 VMFSRAW \"a-rdmp.vmdk\"\n",
}

// checkLayout asserts segments tile [0, capacity) in order.
func checkLayout(t *testing.T, segs []Segment, capacity int64) {
	t.Helper()
	off := int64(0)
	for _, s := range segs {
		if s.Off != off || s.Len <= 0 || s.FileOff < 0 {
			t.Fatalf("Segment %+v at %d", s, off)
		}
		off += s.Len
	}
	if off != capacity {
		t.Fatalf("segments end at %d, capacity %d", off, capacity)
	}
}

func TestLayout(t *testing.T) {
	for i, want := range []error{nil, nil, ErrRefused, ErrRefused} {
		d, err := vmdk.ParseDescriptor([]byte(layoutSeeds[i]))
		if err != nil {
			t.Fatal(err)
		}
		for _, capacity := range []int64{1 << 20, 2 << 20} { // shorter and longer than the extents
			segs, err := Layout("vm/a.vmdk", d, capacity)
			if !errors.Is(err, want) || (want == nil) != (err == nil) {
				t.Fatalf("seed %d: err %v, want %v", i, err, want)
			}
			if err == nil {
				checkLayout(t, segs, capacity)
			}
		}
	}
	d, _ := vmdk.ParseDescriptor([]byte(layoutSeeds[1]))
	segs, _ := Layout("vm/a.vmdk", d, 2<<20)
	if segs[0].File != "vm/a-f001.vmdk" || segs[1].File != "" || segs[2].File != "vm/a-f002.vmdk" || segs[2].FileOff != 8*512 || segs[3].File != "" {
		t.Fatalf("twoGbMaxExtentFlat layout: %+v", segs)
	}
}

func FuzzLayout(f *testing.F) {
	for _, s := range layoutSeeds {
		f.Add([]byte(s), int64(1<<20))
	}
	f.Fuzz(func(t *testing.T, text []byte, capacity int64) {
		if capacity <= 0 || capacity > 1<<50 {
			return
		}
		d, err := vmdk.ParseDescriptor(text)
		if err != nil {
			return
		}
		segs, err := Layout("vm/a.vmdk", d, capacity)
		if err == nil {
			checkLayout(t, segs, capacity)
		}
	})
}

// TestLayoutParent: a base disk is known by the API's answer (checked by
// the caller) and the createType, not by parentCID: govmomi writes
// 00000000 for a base disk. A parent hint or a delta createType is refused.
func TestLayoutParent(t *testing.T) {
	const head = "# Disk DescriptorFile\nversion=1\nencoding=\"UTF-8\"\nCID=1a2b3c4d\n"
	for _, tc := range []struct {
		text string
		want error
	}{
		{head + "parentCID=00000000\ncreateType=\"vmfs\"\nRW 2048 VMFS \"a-flat.vmdk\"\n", nil},
		{head + "parentCID=ffffffff\ncreateType=\"vmfs\"\nRW 2048 VMFS \"a-flat.vmdk\"\n", nil},
		{head + "parentCID=5e6f7a8b\ncreateType=\"vmfs\"\nparentFileNameHint=\"base.vmdk\"\nRW 2048 VMFS \"a-flat.vmdk\"\n", ErrRefused},
		{head + "parentCID=ffffffff\ncreateType=\"seSparse\"\nRW 2048 VMFS \"a-flat.vmdk\"\n", ErrRefused},
	} {
		d, err := vmdk.ParseDescriptor([]byte(tc.text))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Layout("vm/a.vmdk", d, 1<<20); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("Layout(%q): %v, want %v", tc.text, err, tc.want)
		}
	}
}
