package partition

import (
	"bytes"
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
