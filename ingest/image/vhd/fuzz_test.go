package vhd

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisktest"
)

func seed(t testing.TB, name string) []byte {
	return vdisktest.Gunzip(t, filepath.Join("testdata", name+".gz"))
}

// parentOf opens the dynamic seed from memory as the parent of any
// differencing disk the fuzzer makes.
func parentOf(t testing.TB) ParentOpener {
	base := seed(t, "dyn.vhd")
	return func(names []string, format string) (vdisk.Disk, string, error) {
		d, err := Open(vdisk.Bytes(base), "parent.vhd", nil)
		return d, "parent.vhd", err
	}
}

func exercise(t *testing.T, b []byte, open ParentOpener) {
	d, err := Open(vdisk.Bytes(b), "fuzz.vhd", open)
	if err != nil {
		return
	}
	defer d.Close()
	vdisktest.Exercise(t, d)
}

// FuzzVHDFooter puts the input over the footer of the fixed seed, with
// the checksum made right so the fuzzer gets past it.
func FuzzVHDFooter(f *testing.F) {
	img := seed(f, "fixed.vhd")
	f.Add(img[len(img)-footerLen:])
	f.Fuzz(func(t *testing.T, foot []byte) {
		if len(foot) > footerLen {
			return
		}
		b := append([]byte(nil), img...)
		copy(b[len(b)-footerLen:], foot)
		fixSum(b[len(b)-footerLen:], 64)
		exercise(t, b, nil)
	})
}

// FuzzVHDHeader puts the input over the footer copy, the dynamic disk
// header and the BAT of the dynamic seed (checksums made right; the end
// footer is the new copy), with a parent for differencing disks.
func FuzzVHDHeader(f *testing.F) {
	img := seed(f, "dyn.vhd")
	f.Add(img[:2048])
	open := parentOf(f)
	f.Fuzz(func(t *testing.T, head []byte) {
		if len(head) > 4096 {
			return
		}
		b := append([]byte(nil), img...)
		copy(b, head)
		fixSum(b[:footerLen], 64)
		copy(b[len(b)-footerLen:], b[:footerLen])
		if off := binary.BigEndian.Uint64(b[16:]); off <= uint64(len(b)-headerLen) {
			fixSum(b[off:off+headerLen], 36)
		}
		exercise(t, b, open)
	})
}

// FuzzVHD mutates a whole small image (the 4 MiB dynamic seed is too
// big to mutate whole; FuzzVHDHeader covers it).
func FuzzVHD(f *testing.F) {
	f.Add(seed(f, "fixed.vhd"))
	open := parentOf(f)
	f.Fuzz(func(t *testing.T, b []byte) { exercise(t, b, open) })
}

func fixSum(b []byte, at int) {
	binary.BigEndian.PutUint32(b[at:], checksum(b, at))
}
