package image

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestVMDKHandWrittenDescriptor covers what qemu-img cannot create (and
// does not read the VMware way: it drops ZERO extents): a descriptor with
// FLAT extents at offsets, a ZERO extent, RDONLY access and a file name
// with a blank. The oracle is the same layout assembled with dd.
func TestVMDKHandWrittenDescriptor(t *testing.T) {
	testenv.NeedTools(t, "qemu-img", "dd")
	ref := refImage(t)
	dir := t.TempDir()
	flat := filepath.Join(dir, "disk a-flat.bin")
	run(t, "cp", "--sparse=always", ref, flat)
	desc := filepath.Join(dir, "custom.vmdk")
	text := "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType=\"custom\"\n\n" +
		"RW 4096 FLAT \"disk a-flat.bin\" 0\nRW 2048 ZERO\nRDONLY 8192 FLAT \"disk a-flat.bin\" 10000\n"
	if err := os.WriteFile(desc, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	oracle := filepath.Join(dir, "oracle.raw")
	run(t, "dd", "if="+flat, "of="+oracle, "bs=512", "count=4096", "status=none")
	run(t, "dd", "if=/dev/zero", "of="+oracle, "bs=512", "seek=4096", "count=2048", "status=none")
	run(t, "dd", "if="+flat, "of="+oracle, "bs=512", "skip=10000", "seek=6144", "count=8192", "status=none")

	d, err := Open(desc)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Format() != "vmdk-custom" {
		t.Errorf("Format() = %q", d.Format())
	}
	alloc := compareDisk(t, d, oracle)
	for _, e := range alloc {
		if e.Off < 6144*512 && e.Off+e.Len > 4096*512 {
			t.Errorf("Allocated() %v overlaps the ZERO extent", fmtExtents(alloc))
		}
	}
}
