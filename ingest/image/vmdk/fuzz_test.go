package vmdk

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisktest"
)

// seedImages are the qemu-made images of testdata (see its README).
func seedImages(f *testing.F) [][]byte {
	paths, _ := filepath.Glob("testdata/*.vmdk.gz")
	if len(paths) == 0 {
		f.Fatal("no seed images in testdata")
	}
	var out [][]byte
	for _, p := range paths {
		out = append(out, vdisktest.Gunzip(f, p))
	}
	return out
}

func FuzzVMDKSparseHeader(f *testing.F) {
	for _, b := range seedImages(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Open(vdisk.Bytes(b), "fuzz.vmdk", nil)
		if err != nil {
			return
		}
		defer d.Close()
		vdisktest.Exercise(t, d)
	})
}

func FuzzVMDKDescriptor(f *testing.F) {
	for _, b := range seedImages(f) {
		if i := bytes.Index(b, []byte("# Disk DescriptorFile")); i >= 0 {
			end := bytes.IndexByte(b[i:], 0)
			f.Add(b[i : i+end])
		}
	}
	for _, s := range descriptorSeeds {
		f.Add([]byte(s))
	}
	descs, _ := filepath.Glob("testdata/*.desc")
	for _, p := range descs {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDescriptor(b)
		if err != nil {
			return
		}
		if d.CreateType == "" {
			t.Fatal("parsed a descriptor without createType")
		}
		for _, e := range d.Extents {
			if e.Sectors < 0 || e.Sectors > maxSectors || e.Offset < 0 || (e.Type != "ZERO" && e.File == "") {
				t.Fatalf("bad extent accepted: %+v", e)
			}
			if !accessModes[e.Access] || !extentTypes[e.Type] {
				t.Fatalf("unknown access or type accepted: %+v", e)
			}
		}
	})
}
