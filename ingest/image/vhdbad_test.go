package image

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// vhdSum recomputes the VHD checksum (ones' complement byte sum) of the
// n-byte structure at off whose checksum field is at off+at.
func vhdSum(t *testing.T, path string, off int64, n, at int) {
	t.Helper()
	b := readBytes(t, path, off, n)
	var sum uint32
	for i, c := range b {
		if i < at || i >= at+4 {
			sum += uint32(c)
		}
	}
	patch(t, path, off+int64(at), binary.BigEndian.AppendUint32(nil, ^sum))
}

// vhdxSum recomputes the CRC-32C of the n-byte VHDX structure at off.
func vhdxSum(t *testing.T, path string, off int64, n int) {
	t.Helper()
	b := readBytes(t, path, off, n)
	clear(b[4:8])
	patch(t, path, off+4, le32(crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))))
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// TestCorruptVHD damages qemu-img-made VHDs: a damaged structure is
// refused naming it, a damaged footer with a good copy is read.
func TestCorruptVHD(t *testing.T) {
	testenv.NeedTools(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	dyn, fixed := filepath.Join(dir, "d.vhd"), filepath.Join(dir, "f.vhd")
	run(t, "qemu-img", "create", "-q", "-f", "vpc", dyn, "8M")
	run(t, "qemu-io", "-f", "vpc", "-c", "write -P 0x61 1000 3000", "-c", "write -P 0x62 5M 4k", dyn)
	run(t, "qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=fixed", fixed, "8M")
	fi, _ := os.Stat(dyn)
	end := fi.Size() - 512
	const hdr = 512 // dynamic disk header, after the footer copy
	bat := int64(readU64BE(t, dyn, hdr+16))

	t.Run("fixed-footer-checksum", func(t *testing.T) {
		img := copyFile(t, fixed)
		ffi, _ := os.Stat(img)
		patch(t, img, ffi.Size()-512+64, be32(0x12345678))
		d, err := OpenAs(img, "vhd")
		if err == nil {
			d.Close()
		}
		wantErr(t, err, "checksum 0x12345678")
	})
	t.Run("end-footer-damaged-copy-used", func(t *testing.T) {
		img := copyFile(t, dyn)
		patch(t, img, end+64, be32(1))
		d, err := Open(img)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		compareDisk(t, d, oracleRaw(t, dyn, ""))
	})
	t.Run("both-footers-damaged", func(t *testing.T) {
		img := copyFile(t, dyn)
		patch(t, img, end+64, be32(1))
		patch(t, img, 64, be32(1))
		wantCorrupt(t, img, "footer at offset")
	})
	t.Run("header-cookie", func(t *testing.T) {
		img := copyFile(t, dyn)
		patch(t, img, hdr, []byte("xxsparse"))
		wantCorrupt(t, img, `cookie "xxsparse"`)
	})
	t.Run("header-checksum", func(t *testing.T) {
		img := copyFile(t, dyn)
		patch(t, img, hdr+32, be32(1<<20))
		wantCorrupt(t, img, "dynamic disk header at offset 512 has checksum")
	})
	t.Run("block-size-not-power-of-two", func(t *testing.T) {
		img := copyFile(t, dyn)
		patch(t, img, hdr+32, be32(3<<20))
		vhdSum(t, img, hdr, 1024, 36)
		wantCorrupt(t, img, "block size 3145728")
	})
	t.Run("bat-outside-file", func(t *testing.T) {
		img := copyFile(t, dyn)
		patch(t, img, hdr+16, be64(1<<40))
		vhdSum(t, img, hdr, 1024, 36)
		wantCorrupt(t, img, "entries at offset 1099511627776 lies outside")
	})
	t.Run("bat-entry-past-eof", func(t *testing.T) {
		img := copyFile(t, dyn)
		patch(t, img, bat, be32(0x7fffff00))
		wantCorrupt(t, img, "BAT entry 0 puts block 0 at sector 2147483392, past the end")
	})
	t.Run("bat-entries-shared", func(t *testing.T) {
		img := copyFile(t, dyn)
		patch(t, img, bat+4, readBytes(t, img, bat, 4))
		wantCorrupt(t, img, "BAT entries 0 and 1 both point")
	})
	t.Run("truncated", func(t *testing.T) {
		img := copyFile(t, dyn)
		os.Truncate(img, end/2)
		wantCorrupt(t, img, "past the end")
	})
	t.Run("too-few-bat-entries", func(t *testing.T) {
		img := copyFile(t, dyn)
		patch(t, img, hdr+28, be32(1))
		vhdSum(t, img, hdr, 1024, 36)
		wantCorrupt(t, img, "1 BAT entries of 2097152-byte blocks cannot hold")
	})
}

// TestCorruptVHDX damages a qemu-img-made VHDX (BAT region at 2 MiB,
// metadata at 3 MiB): a damaged copy of a redundant structure is
// survived, anything else refused naming the structure.
func TestCorruptVHDX(t *testing.T) {
	testenv.NeedTools(t, "qemu-img", "qemu-io")
	src := filepath.Join(t.TempDir(), "x.vhdx")
	run(t, "qemu-img", "create", "-q", "-f", "vhdx", "-o", "block_size=1M", src, "8M")
	run(t, "qemu-io", "-f", "vhdx", "-c", "write -P 0x61 1000 3000", "-c", "write -P 0x62 5M 4k", src)
	const rt1, rt2, bat, meta = 192 << 10, 256 << 10, 2 << 20, 3 << 20
	if off := binary.LittleEndian.Uint64(readBytes(t, src, rt1+16+16, 8)); off != bat {
		t.Fatalf("qemu-img put the first region at %d, the test expects the BAT at %d", off, bat)
	}
	reads := func(t *testing.T, img string) {
		d, err := Open(img)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		compareDisk(t, d, oracleRaw(t, src, ""))
	}
	t.Run("header-1-crc-header-2-used", func(t *testing.T) {
		img := copyFile(t, src)
		patch(t, img, 64<<10+4, le32(1))
		reads(t, img)
	})
	t.Run("both-headers", func(t *testing.T) {
		img := copyFile(t, src)
		patch(t, img, 64<<10+4, le32(1))
		patch(t, img, 128<<10, []byte("HEAD"))
		wantCorrupt(t, img, `no valid header: header at offset 65536 has CRC-32C 0x00000001`)
	})
	t.Run("region-table-1-region-table-2-used", func(t *testing.T) {
		img := copyFile(t, src)
		patch(t, img, rt1+16+16, le64(1<<40))
		reads(t, img)
	})
	t.Run("both-region-tables", func(t *testing.T) {
		img := copyFile(t, src)
		patch(t, img, rt1+16+16, le64(1<<40))
		patch(t, img, rt2, []byte("rege"))
		wantCorrupt(t, img, "no valid region table")
	})
	t.Run("region-outside-file", func(t *testing.T) {
		img := copyFile(t, src)
		for _, rt := range []int64{rt1, rt2} {
			patch(t, img, rt+16+16, le64(1<<40))
			vhdxSum(t, img, rt, 64<<10)
		}
		wantCorrupt(t, img, "region table entry 0")
	})
	t.Run("metadata-signature", func(t *testing.T) {
		img := copyFile(t, src)
		patch(t, img, meta, []byte("metadat\x00"))
		wantCorrupt(t, img, "metadata table at offset 3145728 has signature")
	})
	t.Run("metadata-item-outside-region", func(t *testing.T) {
		img := copyFile(t, src)
		patch(t, img, meta+32+16, le32(1<<30))
		wantCorrupt(t, img, "metadata item")
	})
	t.Run("logical-sector-size", func(t *testing.T) {
		img := copyFile(t, src)
		patch(t, img, meta+int64(vhdxItemOffset(t, img, meta, "8141bf1d-a96f-4709-ba47-f233a8faab5f")), le32(1000))
		wantCorrupt(t, img, "logical sector size 1000")
	})
	t.Run("bat-entry-past-eof", func(t *testing.T) {
		img := copyFile(t, src)
		patch(t, img, bat, le64(1<<40|6))
		wantCorrupt(t, img, "BAT entry 0 puts block 0 at offset 1099511627776, past the end")
	})
	t.Run("bat-entry-bad-state", func(t *testing.T) {
		img := copyFile(t, src)
		patch(t, img, bat+8, le64(4))
		wantCorrupt(t, img, "BAT entry 1 (block 1) has state 4")
	})
	t.Run("bat-entry-over-metadata", func(t *testing.T) {
		img := copyFile(t, src)
		patch(t, img, bat, le64(meta|6))
		wantCorrupt(t, img, "overlaps")
	})
	t.Run("partially-present-not-differencing", func(t *testing.T) {
		img := copyFile(t, src)
		e := binary.LittleEndian.Uint64(readBytes(t, img, bat, 8))
		patch(t, img, bat, le64(e&^7|7))
		wantCorrupt(t, img, "has state 7")
	})
}

// vhdxItemOffset returns the region offset of a metadata item.
func vhdxItemOffset(t *testing.T, img string, meta int64, guid string) uint32 {
	t.Helper()
	b := readBytes(t, img, meta, 64<<10)
	n := int(binary.LittleEndian.Uint16(b[10:]))
	for i := 1; i <= n; i++ {
		e := b[32*i:]
		if guidText(e[:16]) == guid {
			return binary.LittleEndian.Uint32(e[16:])
		}
	}
	t.Fatalf("no metadata item %s", guid)
	return 0
}

// guidText formats an on-disk GUID in lower case.
func guidText(g []byte) string {
	le := binary.LittleEndian
	return fmtGUID(le.Uint32(g), le.Uint16(g[4:]), le.Uint16(g[6:]), g[8:16])
}

// TestVHDXHugeBATOffset: a BAT offset past 2^63 bytes is refused, not
// read at a negative file offset.
func TestVHDXHugeBATOffset(t *testing.T) {
	testenv.NeedTools(t, "qemu-img")
	img := filepath.Join(t.TempDir(), "x.vhdx")
	run(t, "qemu-img", "create", "-q", "-f", "vhdx", img, "8M")
	patch(t, img, 2<<20, le64(0xfffff00000000006))
	wantCorrupt(t, img, "BAT entry 0 puts block 0 at offset 18446726481523507200, past the end")
}
