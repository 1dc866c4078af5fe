package image

import (
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// mutation sets one header field of a qemu-img-made image.
type mutation struct {
	name  string
	off   int64  // byte offset of the field
	size  int    // 1, 2, 4 or 8 bytes
	value uint64 // new value
	// read, if set, says why reading the image is right although qemu-img
	// refuses it; the test then wants it read, not refused.
	read string
}

// qcow2Mutations are qcow2 header fields (big-endian, qcow2.txt) set to
// values around and past what qemu accepts.
var qcow2Mutations = []mutation{
	{name: "version-1", off: 4, size: 4, value: 1},
	{name: "version-4", off: 4, size: 4, value: 4},
	{name: "backing-offset-past-cluster", off: 8, size: 8, value: 1 << 20},
	{name: "backing-size-huge", off: 16, size: 4, value: 1 << 30},
	{name: "cluster-bits-8", off: 20, size: 4, value: 8},
	{name: "cluster-bits-22", off: 20, size: 4, value: 22},
	{name: "cluster-bits-32", off: 20, size: 4, value: 32},
	{name: "size-0", off: 24, size: 8, value: 0},
	{name: "size-odd", off: 24, size: 8, value: 1<<20 + 1},
	{name: "size-past-l1", off: 24, size: 8, value: 1 << 40},
	{name: "size-huge", off: 24, size: 8, value: 1 << 62},
	{name: "crypt-method-3", off: 32, size: 4, value: 3},
	{name: "l1-size-0", off: 36, size: 4, value: 0},
	{name: "l1-size-large", off: 36, size: 4, value: 1 << 20},
	{name: "l1-size-huge", off: 36, size: 4, value: 1<<32 - 1},
	{name: "l1-offset-0", off: 40, size: 8, value: 0},
	{name: "l1-offset-unaligned", off: 40, size: 8, value: 0x30200},
	{name: "l1-offset-past-eof", off: 40, size: 8, value: 1 << 40},
	{name: "refcount-offset-0", off: 48, size: 8, value: 0},
	{name: "refcount-offset-unaligned", off: 48, size: 8, value: 0x10200},
	{name: "refcount-offset-past-eof", off: 48, size: 8, value: 1 << 40},
	{name: "refcount-clusters-0", off: 56, size: 4, value: 0},
	{name: "refcount-clusters-huge", off: 56, size: 4, value: 1<<32 - 1},
	{name: "snapshots-many", off: 60, size: 4, value: 1 << 20},
	{name: "snapshots-1-at-0", off: 60, size: 4, value: 1},
	{name: "snapshots-offset-unaligned", off: 64, size: 8, value: 0x10200},
	{name: "incompat-dirty", off: 72, size: 8, value: 1,
		read: "a dirty image is consistent but for refcounts, which a reader does not use; qemu-img reads it too (check repairs leaks)"},
	{name: "incompat-corrupt", off: 72, size: 8, value: 2,
		read: "qemu opens an image marked corrupt read-only and reads it; vmarchive only reads"},
	{name: "incompat-unknown", off: 72, size: 8, value: 1 << 40},
	{name: "compat-unknown", off: 80, size: 8, value: 1 << 40},
	{name: "autoclear-unknown", off: 88, size: 8, value: 1 << 40},
	{name: "refcount-order-7", off: 96, size: 4, value: 7},
	{name: "header-length-72", off: 100, size: 4, value: 72},
	{name: "header-length-odd", off: 100, size: 4, value: 105},
	{name: "compression-type-2", off: 104, size: 1, value: 2},
}

// vmdkMutations are monolithicSparse header fields (little-endian,
// SparseExtentHeader).
var vmdkMutations = []mutation{
	{name: "version-0", off: 4, size: 4, value: 0},
	{name: "version-4", off: 4, size: 4, value: 4},
	{name: "flags-unknown", off: 8, size: 4, value: 3 | 1<<20},
	{name: "capacity-0", off: 12, size: 8, value: 0},
	{name: "capacity-odd", off: 12, size: 8, value: 2049},
	{name: "capacity-past-gd", off: 12, size: 8, value: 1 << 22},
	{name: "capacity-huge", off: 12, size: 8, value: 1 << 62},
	{name: "grain-0", off: 20, size: 8, value: 0},
	{name: "grain-3", off: 20, size: 8, value: 3},
	{name: "grain-8", off: 20, size: 8, value: 8},
	{name: "grain-huge", off: 20, size: 8, value: 1 << 40},
	{name: "descriptor-offset-past-eof", off: 28, size: 8, value: 1 << 40},
	{name: "descriptor-offset-0", off: 28, size: 8, value: 0},
	{name: "descriptor-size-huge", off: 36, size: 8, value: 1 << 40},
	{name: "gtes-0", off: 44, size: 4, value: 0},
	{name: "gtes-256", off: 44, size: 4, value: 256},
	{name: "gtes-1024", off: 44, size: 4, value: 1024},
	{name: "gtes-huge", off: 44, size: 4, value: 1 << 30},
	{name: "rgd-past-eof", off: 48, size: 8, value: 1 << 40},
	{name: "gd-0", off: 56, size: 8, value: 0},
	{name: "gd-past-eof", off: 56, size: 8, value: 1 << 40},
	{name: "overhead-past-eof", off: 64, size: 8, value: 1 << 40},
	{name: "newline-bytes", off: 73, size: 1, value: 'x'},
	{name: "compress-unknown", off: 77, size: 2, value: 7},
}

// TestMutatedHeaders sets header fields of qemu-img-made qcow2 and VMDK
// images to bad values and compares with qemu-img: what qemu-img refuses
// (info or convert fails) is refused here too, unless the table says why
// reading it is right; nothing panics or hangs.
func TestMutatedHeaders(t *testing.T) {
	testenv.NeedTools(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	bases := []struct {
		format, file string
		muts         []mutation
		be           bool
	}{
		{"qcow2", filepath.Join(dir, "base.qcow2"), qcow2Mutations, true},
		{"vmdk", filepath.Join(dir, "base.vmdk"), vmdkMutations, false},
	}
	for _, b := range bases {
		run(t, "qemu-img", "create", "-q", "-f", b.format, b.file, "1M")
		run(t, "qemu-io", "-f", b.format, "-c", "write -P 0xab 64k 64k", "-c", "write -P 0xcd 960k 4k", b.file)
		orig, err := os.ReadFile(b.file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range b.muts {
			t.Run(b.format+"/"+m.name, func(t *testing.T) {
				t.Parallel() // qemu-img's start-up dominates
				img := filepath.Join(t.TempDir(), "m."+b.format)
				os.WriteFile(img, setField(orig, m, b.be), 0o600)
				qemuRefuses := qemuRefuses(img, b.format)
				ourErr := readMutated(img)
				switch {
				case qemuRefuses && m.read == "" && ourErr == nil:
					t.Errorf("qemu-img refuses it, vmarchive reads it")
				case m.read != "" && ourErr != nil:
					t.Errorf("refused (%v), but the table says reading is right: %s", ourErr, m.read)
				case m.read != "" && !qemuRefuses:
					t.Logf("qemu-img reads it too")
				}
				t.Logf("qemu-img refuses: %v; vmarchive: %v", qemuRefuses, ourErr)
			})
		}
	}
}

// setField returns a copy of b with m applied.
func setField(b []byte, m mutation, be bool) []byte {
	out := append([]byte(nil), b...)
	var order binary.ByteOrder = binary.LittleEndian
	if be {
		order = binary.BigEndian
	}
	f := out[m.off : m.off+int64(m.size)]
	switch m.size {
	case 1:
		f[0] = byte(m.value)
	case 2:
		order.PutUint16(f, uint16(m.value))
	case 4:
		order.PutUint32(f, uint32(m.value))
	case 8:
		order.PutUint64(f, m.value)
	}
	return out
}

// qemuRefuses reports whether qemu-img cannot open or convert img.
func qemuRefuses(img, format string) bool {
	if exec.Command("qemu-img", "info", "-f", format, img).Run() != nil {
		return true
	}
	out := filepath.Join(filepath.Dir(img), "out.raw")
	defer os.Remove(out)
	return exec.Command("qemu-img", "convert", "-f", format, "-O", "raw", img, out).Run() != nil
}

// readMutated opens img and reads its allocation and every byte.
func readMutated(img string) error {
	d, err := Open(img)
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := d.Allocated(); err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for off := int64(0); off < min(d.Size(), 64<<20); off += int64(len(buf)) {
		if _, err := d.ReadAt(buf, off); err != nil && err != io.EOF {
			return err
		}
	}
	return nil
}
