package qcow2

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisktest"
)

// seedImages are the qemu-made images of testdata (see its README), by
// file name.
func seedImages(t testing.TB) map[string][]byte {
	paths, _ := filepath.Glob("testdata/*.qcow2.gz")
	if len(paths) == 0 {
		t.Fatal("no seed images in testdata")
	}
	out := map[string][]byte{}
	for _, p := range paths {
		out[strings.TrimSuffix(filepath.Base(p), ".gz")] = vdisktest.Gunzip(t, p)
	}
	return out
}

func FuzzQcow2(f *testing.F) {
	seeds := seedImages(f)
	for _, b := range seeds {
		f.Add(b)
	}
	// The backing file of overlay.qcow2, opened from memory without
	// further backing files.
	backing := func(name, format string) (vdisk.Disk, error) {
		b, ok := seeds[name]
		if !ok || (format != "" && format != "qcow2") {
			return nil, vdisk.Unsupportedf("no backing file %q in the fuzz corpus", name)
		}
		return Open(vdisk.Bytes(b), name, nil)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Open(vdisk.Bytes(b), "fuzz.qcow2", backing)
		if err != nil {
			return
		}
		defer d.Close()
		vdisktest.Exercise(t, d)
	})
}
