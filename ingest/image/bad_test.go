package image

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

func TestUnsupported(t *testing.T) {
	testenv.NeedTools(t, "qemu-img")
	ref := refImage(t)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	tests := []struct {
		name, img, want string
		make            []string
	}{
		{"qcow2-zstd", p("zstd.qcow2"), "zstd", []string{"convert", "-c", "-O", "qcow2", "-o", "compression_type=zstd", ref, p("zstd.qcow2")}},
		{"qcow2-luks", p("luks.qcow2"), "encrypted", []string{"create", "-q", "--object", "secret,id=s0,data=pw", "-f", "qcow2",
			"-o", "encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10", p("luks.qcow2"), "1M"}},
		{"qcow2-aes", p("aes.qcow2"), "crypt_method 1: AES", []string{"create", "-q", "--object", "secret,id=s0,data=pw", "-f", "qcow2",
			"-o", "encrypt.format=aes,encrypt.key-secret=s0", p("aes.qcow2"), "1M"}},
		{"qcow2-data-file", p("ext.qcow2"), "external data file", []string{"create", "-q", "-f", "qcow2", "-o", "data_file=" + p("ext.raw"), p("ext.qcow2"), "1M"}},
		{"vmdk-delta", p("delta.vmdk"), "parentCID", []string{"create", "-q", "-f", "vmdk", "-b", p("vbase.vmdk"), "-F", "vmdk", p("delta.vmdk")}},
		{"vdi", p("x.vdi"), "VDI", []string{"create", "-q", "-f", "vdi", p("x.vdi"), "1M"}},
		{"vmdk-bare-extent", p("tg-s001.vmdk"), "open its descriptor file instead", []string{"info", p("tg.vmdk")}},
		{"qed", p("x.qed"), "QED", []string{"create", "-q", "-f", "qed", p("x.qed"), "1M"}},
	}
	run(t, "qemu-img", "create", "-q", "-f", "vmdk", p("vbase.vmdk"), "1M")
	run(t, "qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", p("tg.vmdk"), "1M")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run(t, "qemu-img", tc.make...)
			d, err := Open(tc.img)
			if err == nil {
				d.Close()
				t.Fatalf("Open succeeded (%s), want ErrUnsupported", d.Format())
			}
			if !errors.Is(err, ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v; want ErrUnsupported mentioning %q", err, tc.want)
			}
		})
	}
}

// copyFile copies src to a new file in a temporary directory.
func copyFile(t *testing.T, src string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func patch(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func readU32LE(t *testing.T, path string, off int64) uint32 {
	t.Helper()
	return binary.LittleEndian.Uint32(readBytes(t, path, off, 4))
}

func readU64BE(t *testing.T, path string, off int64) uint64 {
	t.Helper()
	return binary.BigEndian.Uint64(readBytes(t, path, off, 8))
}

func readBytes(t *testing.T, path string, off int64, n int) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return b
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// readAll reads the whole disk and Allocated, returning the first error.
func readAll(d Disk) error {
	if _, err := d.Allocated(); err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for off := int64(0); off < d.Size(); off += int64(len(buf)) {
		if _, err := d.ReadAt(buf, off); err != nil && err != io.EOF {
			return err
		}
	}
	return nil
}

// wantCorrupt checks that opening or reading img fails with ErrCorrupt
// and a message containing want.
func wantCorrupt(t *testing.T, img, want string) {
	t.Helper()
	d, err := Open(img)
	if err == nil {
		err = readAll(d)
		d.Close()
	}
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v; want ErrCorrupt mentioning %q", err, want)
	}
	t.Logf("error as expected: %v", err)
}

func TestCorruptVMDK(t *testing.T) {
	ref := refImage(t)
	sparse := filepath.Join(t.TempDir(), "sparse.vmdk")
	run(t, script("mkvariant.sh"), "vmdk-monolithicSparse", ref, sparse)
	qstream := filepath.Join(t.TempDir(), "qstream.vmdk")
	run(t, script("mkvariant.sh"), "vmdk-streamOptimized", ref, qstream)
	stream := filepath.Join(t.TempDir(), "stream.vmdk")
	toVMwareStream(t, qstream, stream)
	// SparseExtentHeader: rgdOffset at 48, gdOffset at 56 (sectors).
	gd := int64(binary.LittleEndian.Uint64(readBytes(t, sparse, 56, 8))) * 512
	rgd := int64(binary.LittleEndian.Uint64(readBytes(t, sparse, 48, 8))) * 512

	t.Run("truncated", func(t *testing.T) {
		img := copyFile(t, sparse)
		fi, _ := os.Stat(img)
		os.Truncate(img, fi.Size()/2)
		wantCorrupt(t, img, "past the end of the file")
	})
	t.Run("stream-without-footer", func(t *testing.T) {
		img := copyFile(t, stream)
		fi, _ := os.Stat(img)
		os.Truncate(img, fi.Size()-1536)
		wantCorrupt(t, img, "footer")
	})
	t.Run("primary-gd-damaged-redundant-used", func(t *testing.T) {
		img := copyFile(t, sparse)
		patch(t, img, gd, le32(0x7fffffff))
		d, err := Open(img)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		compareDisk(t, d, oracleRaw(t, sparse, ""))
	})
	t.Run("both-gds-damaged", func(t *testing.T) {
		img := copyFile(t, sparse)
		patch(t, img, gd, le32(0x7fffffff))
		patch(t, img, rgd, le32(0x7ffffff0))
		wantCorrupt(t, img, "grain table at sector 2147483647, past the end")
	})
	t.Run("grain-past-eof", func(t *testing.T) {
		img := copyFile(t, sparse)
		gt := int64(readU32LE(t, img, gd)) * 512
		rgt := int64(readU32LE(t, img, rgd)) * 512
		patch(t, img, gt, le32(0x7ffffff0))
		patch(t, img, rgt, le32(0x7ffffff0))
		wantCorrupt(t, img, "grain 0 at sector 2147483632 extends past the end")
	})
	t.Run("absurd-capacity", func(t *testing.T) {
		img := copyFile(t, sparse)
		patch(t, img, 12, le64(1<<50))
		wantCorrupt(t, img, "grain directory of")
	})
	t.Run("bad-grain-size", func(t *testing.T) {
		img := copyFile(t, sparse)
		patch(t, img, 20, le64(3))
		wantCorrupt(t, img, "grain size 3 sectors")
	})
	t.Run("bad-compressed-grain", func(t *testing.T) {
		img := copyFile(t, stream)
		// The first grain follows the embedded descriptor at overHead
		// (offset 64); its marker is 12 bytes, then deflate data.
		first := int64(binary.LittleEndian.Uint64(readBytes(t, img, 64, 8))) * 512
		patch(t, img, first+12, []byte{0xff, 0xff, 0xff, 0xff})
		wantCorrupt(t, img, "compressed grain 0")
	})
}

func TestCorruptQcow2(t *testing.T) {
	ref := refImage(t)
	img0 := filepath.Join(t.TempDir(), "q.qcow2")
	run(t, script("mkvariant.sh"), "qcow2-v3", ref, img0)
	l1 := int64(readU64BE(t, img0, 40))

	t.Run("l1-out-of-range", func(t *testing.T) {
		img := copyFile(t, img0)
		patch(t, img, 40, be64(1<<50))
		wantCorrupt(t, img, "L1 table of 1 entries at offset 0x4000000000000")
	})
	t.Run("l2-past-eof", func(t *testing.T) {
		img := copyFile(t, img0)
		patch(t, img, l1, be64(1<<40))
		wantCorrupt(t, img, "points to L2 table at 0x10000000000")
	})
	t.Run("data-cluster-past-eof", func(t *testing.T) {
		img := copyFile(t, img0)
		l2 := int64(readU64BE(t, img, l1) & 0x00fffffffffffe00)
		patch(t, img, l2, be64(1<<63|1<<40))
		wantCorrupt(t, img, "maps to host offset 0x10000000000, past the end")
	})
	t.Run("absurd-size", func(t *testing.T) {
		img := copyFile(t, img0)
		patch(t, img, 24, be64(1<<62))
		wantCorrupt(t, img, "virtual size 4611686018427387904")
	})
	t.Run("l1-too-small", func(t *testing.T) {
		img := copyFile(t, img0)
		patch(t, img, 24, be64(1<<45))
		wantCorrupt(t, img, "l1_size 1 at offset 36 is too small")
	})
	t.Run("truncated-header", func(t *testing.T) {
		img := copyFile(t, img0)
		os.Truncate(img, 50)
		wantCorrupt(t, img, "shorter than a header")
	})
	t.Run("bad-cluster-bits", func(t *testing.T) {
		img := copyFile(t, img0)
		patch(t, img, 20, []byte{0, 0, 0, 40})
		wantCorrupt(t, img, "cluster_bits 40")
	})
}
