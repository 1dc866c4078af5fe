package vmdk

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisktest"
)

// seedImages are the qemu-made images of testdata (see its README).
func seedImages(f testing.TB) [][]byte {
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
		if c := compactSeed(b); c != nil {
			f.Add(c)
		}
	}
	descs, _ := filepath.Glob("testdata/*.desc") // text descriptors take the other path
	for _, p := range descs {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
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

// compactSeed shrinks a qemu-made sparse image (metadata in the first
// sectors, grains from sector 128 on) to its metadata plus, when grains are
// compressed, its first grain moved right behind the metadata; other grains
// are unmapped. The fuzzer then mutates a few KiB instead of 128 KiB of
// mostly zero padding. It returns nil for layouts it does not know.
func compactSeed(b []byte) []byte {
	h := parseSparseHeader(b)
	if h.Magic != sparseMagic || h.GDOffset == gdAtEnd || h.NumGTEsPerGT != 512 || len(b) < 64<<10 {
		return nil
	}
	le := binary.LittleEndian
	gd, rgd := int(h.GDOffset)*SectorSize, int(h.RGDOffset)*SectorSize
	gt, rgt := int(le.Uint32(b[gd:]))*SectorSize, int(le.Uint32(b[rgd:]))*SectorSize
	end := max(gt, rgt) + 4*512
	if gt == 0 || end > len(b) {
		return nil
	}
	out := append([]byte(nil), b[:end]...)
	first := uint32(0)
	for i := range 512 {
		if g := le.Uint32(out[gt+4*i:]); g > 1 && first == 0 {
			first = g
			continue
		}
		le.PutUint32(out[gt+4*i:], 0)
		le.PutUint32(out[rgt+4*i:], 0)
	}
	if first == 0 || h.Flags&flagCompressed == 0 {
		return out
	}
	at := int(first) * SectorSize
	size := int(le.Uint32(b[at+8:]))
	if at+grainMarkerSize+size > len(b) {
		return nil
	}
	moved := uint32(len(out) / SectorSize)
	out = append(out, b[at:at+grainMarkerSize+size]...)
	for i := range 512 {
		if le.Uint32(out[gt+4*i:]) == first {
			le.PutUint32(out[gt+4*i:], moved)
			le.PutUint32(out[rgt+4*i:], moved)
		}
	}
	return out
}
