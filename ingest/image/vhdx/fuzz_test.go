package vhdx

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisktest"
)

func seed(t testing.TB) []byte {
	return vdisktest.Gunzip(t, filepath.Join("testdata", "dyn.vhdx.gz"))
}

// FuzzVHDXLog fuzzes the log of the seed whose log has an entry to
// replay (its headers name the log at 1 MiB).
func FuzzVHDXLog(f *testing.F) {
	img := vdisktest.Gunzip(f, filepath.Join("testdata", "dirty.vhdx.gz"))
	if _, err := Open(vdisk.Bytes(img), "dirty.vhdx", nil); err == nil {
		f.Fatal("the dirty seed opens: its log has no entry to replay")
	}
	f.Add(img[sectionEnd : sectionEnd+8192])
	f.Fuzz(func(t *testing.T, in []byte) { splice(t, img, sectionEnd, in, 1<<20) })
}

// seedRegion is where the seed keeps a region.
func seedRegion(t testing.TB, img []byte, g GUID) int64 {
	_, _, entries := parseRegions(img[regionOff1 : regionOff1+regionLen])
	for _, e := range entries {
		if e.GUID == g {
			return int64(e.FileOffset)
		}
	}
	t.Fatalf("seed has no region %s", g)
	return 0
}

// fixSums makes the CRC-32C of both headers and region tables right, so
// the fuzzer reaches what lies behind them.
func fixSums(b []byte) {
	for _, s := range []struct{ off, n int }{{headerOff1, headerLen}, {headerOff2, headerLen}, {regionOff1, regionLen}, {regionOff2, regionLen}} {
		binary.LittleEndian.PutUint32(b[s.off+4:], crc32c(b[s.off:s.off+s.n]))
	}
}

// splice copies in over img at off and opens the result, with the seed
// as the parent of any differencing disk.
func splice(t *testing.T, img []byte, off int64, in []byte, maxLen int) {
	if len(in) > maxLen {
		return
	}
	b := append([]byte(nil), img...)
	copy(b[off:], in)
	fixSums(b)
	open := func(names []string, format string) (vdisk.Disk, string, error) {
		d, err := Open(vdisk.Bytes(img), "parent.vhdx", nil)
		return d, "parent.vhdx", err
	}
	d, err := Open(vdisk.Bytes(b), "fuzz.vhdx", open)
	if err != nil {
		return
	}
	defer d.Close()
	vdisktest.Exercise(t, d)
}

// FuzzVHDXHeaders fuzzes both headers and both region tables.
func FuzzVHDXHeaders(f *testing.F) {
	img := seed(f)
	f.Add(img[headerOff1 : regionOff2+regionLen])
	f.Fuzz(func(t *testing.T, in []byte) {
		splice(t, img, headerOff1, in, regionOff2+regionLen-headerOff1)
	})
}

// FuzzVHDXMetadata fuzzes the metadata table and items (a parent
// locator among them once the has-parent flag is set).
func FuzzVHDXMetadata(f *testing.F) {
	img := seed(f)
	meta := seedRegion(f, img, regionMetadata)
	f.Add(img[meta : meta+metaTableLen+4096])
	f.Fuzz(func(t *testing.T, in []byte) { splice(t, img, meta, in, 1<<20) })
}

// FuzzVHDXBAT fuzzes the BAT entries.
func FuzzVHDXBAT(f *testing.F) {
	img := seed(f)
	bat := seedRegion(f, img, regionBAT)
	f.Add(img[bat : bat+4096])
	f.Fuzz(func(t *testing.T, in []byte) { splice(t, img, bat, in, 1<<20) })
}

// FuzzParentLocator fuzzes the parent locator decoder on its own, from
// a locator laid out as Hyper-V writes one.
func FuzzParentLocator(f *testing.F) {
	f.Add(locatorSeed(map[string]string{
		"parent_linkage": "{6a1f3c2e-9d1b-4c5e-8f00-112233445566}",
		"relative_path":  `..\base.vhdx`,
	}))
	f.Fuzz(func(t *testing.T, b []byte) {
		pl, ok := parseParentLocator(b)
		if ok && pl.Type == locatorTypeVHDX {
			(&Disk{locator: pl}).parentNames()
			parseLinkage(pl.Entries["parent_linkage"])
		}
	})
}

func locatorSeed(kv map[string]string) []byte {
	le := binary.LittleEndian
	b := append([]byte(nil), locatorTypeVHDX[:]...)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint16(b, uint16(len(kv)))
	var strs []byte
	base := 20 + 12*len(kv)
	for _, k := range []string{"parent_linkage", "relative_path"} {
		kb, vb := enc16(k), enc16(kv[k])
		b = le.AppendUint32(b, uint32(base+len(strs)))
		b = le.AppendUint32(b, uint32(base+len(strs)+len(kb)))
		b = le.AppendUint16(b, uint16(len(kb)))
		b = le.AppendUint16(b, uint16(len(vb)))
		strs = append(append(strs, kb...), vb...)
	}
	return append(b, strs...)
}

func enc16(s string) []byte {
	var b []byte
	for _, r := range s {
		b = binary.LittleEndian.AppendUint16(b, uint16(r))
	}
	return b
}
