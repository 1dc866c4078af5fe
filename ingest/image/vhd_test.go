package image

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// oddWrites are qemu-io writes at unaligned offsets, inside and across
// blocks, zero writes and discards, so sparse blocks, partly written
// blocks and (VHD) sector bitmaps all occur.
var oddWrites = []string{
	"write -P 0x61 1000 3000",
	"write -P 0x62 1048000 2000",
	"write -P 0x63 3M 1",
	"write -z 3M 64k",
	"write -P 0x64 5000k 333k",
	"write -P 0x65 9M 4k",
	"discard 9M 4k",
	"write -P 0x66 12M 100",
}

// TestVHDWrites reads qemu-img-made VHD and VHDX images after qemu-io
// wrote them at odd offsets.
func TestVHDWrites(t *testing.T) {
	testenv.NeedTools(t, "qemu-img", "qemu-io")
	cases := []struct{ name, qfmt, opts, format string }{
		{"vhd-dynamic", "vpc", "subformat=dynamic", "vhd-dynamic"},
		{"vhd-fixed", "vpc", "subformat=fixed", "vhd-fixed"},
		{"vhdx-dynamic", "vhdx", "subformat=dynamic", "vhdx-dynamic"},
		{"vhdx-dynamic-1M", "vhdx", "subformat=dynamic,block_size=1M", "vhdx-dynamic"},
		{"vhdx-fixed", "vhdx", "subformat=fixed,block_size=1M", "vhdx-fixed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "x.img")
			run(t, "qemu-img", "create", "-q", "-f", c.qfmt, "-o", c.opts, img, "16M")
			args := []string{"-f", c.qfmt}
			for _, w := range oddWrites {
				args = append(args, "-c", w)
			}
			run(t, "qemu-io", append(args, img)...)
			testImage(t, img, c.qfmt, c.format)
		})
	}
}

// TestVHDX4KSectors reads a VHDX with 4096-byte logical sectors. qemu-img
// writes only 512-byte ones (and refuses to read others), so the logical
// sector size item of a qemu-made image is set to 4096: for a disk under
// 4 GiB without a parent the BAT layout and the content stay the same, so
// qemu-img's conversion of the image before the change is the oracle.
func TestVHDX4KSectors(t *testing.T) {
	testenv.NeedTools(t, "qemu-img", "qemu-io")
	img := filepath.Join(t.TempDir(), "x.vhdx")
	run(t, "qemu-img", "create", "-q", "-f", "vhdx", "-o", "block_size=1M", img, "16M")
	args := []string{"-f", "vhdx"}
	for _, w := range oddWrites {
		args = append(args, "-c", w)
	}
	run(t, "qemu-io", append(args, img)...)
	oracle := oracleRaw(t, img, "vhdx")
	const meta = 3 << 20
	patch(t, img, meta+int64(vhdxItemOffset(t, img, meta, "8141bf1d-a96f-4709-ba47-f233a8faab5f")), le32(4096))
	d, err := Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if s, ok := d.(interface{ LogicalSectorSize() int64 }); !ok || s.LogicalSectorSize() != 4096 {
		t.Fatalf("%T: logical sector size not 4096", d)
	}
	compareDisk(t, d, oracle)
}

// TestVHDXDirtyLog makes a VHDX whose log holds an entry to replay the
// way a crash does: qemu-io writes a new block through blkdebug, which
// fails the BAT's in-place update after the log entry is on disk. It is
// refused with the way out; after qemu-img check -r all replays the log,
// it reads byte for byte as qemu-img reads it.
func TestVHDXDirtyLog(t *testing.T) {
	testenv.NeedTools(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	img := filepath.Join(dir, "dirty.vhdx")
	run(t, "qemu-img", "create", "-q", "-f", "vhdx", "-o", "block_state_zero=off,block_size=1M", img, "8M")
	const bat = 2 << 20 // qemu-img's BAT region
	conf := filepath.Join(dir, "blkdebug.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("[inject-error]\nevent = \"pwritev\"\nsector = \"%d\"\nerrno = \"5\"\n", bat/512)), 0o600)
	spec := fmt.Sprintf(`json:{"driver":"vhdx","file":{"driver":"blkdebug","config":%q,"image":{"driver":"file","filename":%q}}}`, conf, img)
	if out, err := exec.Command("qemu-io", "-c", "write -P 0x61 64k 64k", spec).CombinedOutput(); err == nil {
		t.Fatalf("qemu-io wrote through the failing BAT update:\n%s", out)
	}
	if exec.Command("qemu-img", "info", img).Run() == nil {
		t.Fatal("qemu-img reads the image: no log to replay was left")
	}
	d, err := Open(img)
	if err == nil {
		d.Close()
		t.Fatal("Open read an image whose log needs replaying")
	}
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "log holds entries to replay") || !strings.Contains(err.Error(), "qemu-img check -r all") {
		t.Fatalf("Open: %v; want ErrUnsupported about the log and how to replay it", err)
	}
	t.Logf("refused as expected: %v", err)
	run(t, "qemu-img", "check", "-q", "-r", "all", img)
	testImage(t, img, "vhdx", "vhdx-dynamic")
	want := bytes.Repeat([]byte{0x61}, 64<<10)
	d, err = Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got := make([]byte, len(want))
	if _, err := d.ReadAt(got, 64<<10); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("after replay, the logged write is not there (%v)", err)
	}
}
