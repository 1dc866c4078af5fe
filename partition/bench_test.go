package partition

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// BenchmarkReadGPT128 reads a GPT with all 128 entries in use (built by
// testimages/partition/gpt128.sh), held in memory so the figure is the
// decoding cost: the primary and backup headers and entry arrays are read
// and CRC-checked, and every entry decoded.
func BenchmarkReadGPT128(b *testing.B) {
	testenv.NeedTools(b, "sgdisk")
	img, err := os.ReadFile(buildImage(b, "gpt128.sh"))
	if err != nil {
		b.Fatal(err)
	}
	r := bytes.NewReader(img)
	b.ReportAllocs()
	for b.Loop() {
		tab, err := Read(r, int64(len(img)))
		if err != nil || len(tab.Partitions) != 128 {
			b.Fatalf("Read: %v, %d partitions", err, len(tab.Partitions))
		}
	}
}

// BenchmarkLVMRead reads an 8 MiB LV of lvmthin.sh's image in 1 MiB
// requests: "thin" through the pool's mapping btree (thin1: 8 of 128
// chunks mapped, the rest zeros), "thin-half" where every other chunk is
// mapped (big's first 8 MiB), and "linear" through the segment
// map (lin, the same bytes as thin1). The image is held in memory, so the
// figures compare the mapping costs.
func BenchmarkLVMRead(b *testing.B) {
	ti := buildThin(b)
	img, err := os.ReadFile(ti.path)
	if err != nil {
		b.Fatal(err)
	}
	vgs, err := ScanLVM([]*io.SectionReader{io.NewSectionReader(bytes.NewReader(img), ti.pvOff, ti.pvN)})
	if err != nil || len(vgs) != 1 {
		b.Fatalf("ScanLVM: %v", err)
	}
	vg := vgs[0]
	for _, c := range []struct{ name, lv string }{{"linear", "lin"}, {"thin", "thin1"}, {"thin-half", "big"}} {
		b.Run(c.name, func(b *testing.B) {
			r, err := vg.Open(c.lv)
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 1<<20)
			const size = 8 << 20
			b.SetBytes(size)
			for b.Loop() {
				for off := int64(0); off < size; off += int64(len(buf)) {
					if _, err := r.ReadAt(buf, off); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
