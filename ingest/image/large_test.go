package image

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestTwoGbExtents uses a 4 GiB + 8 MiB disk so twoGbMaxExtent formats
// get three extent files and data straddles both seams.
func TestTwoGbExtents(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("4 GiB comparison skipped in -short mode and under the race detector (TestConcurrentReads covers races)")
	}
	testenv.NeedTools(t, "qemu-img")
	dir := t.TempDir()
	ref := filepath.Join(dir, "big.raw")
	run(t, script("mkref.sh"), ref, "4303355904") // 4 GiB + 8 MiB
	for _, v := range []string{"vmdk-twoGbMaxExtentSparse", "vmdk-twoGbMaxExtentFlat", "qcow2-v3"} {
		t.Run(v, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), v+".img")
			run(t, script("mkvariant.sh"), v, ref, img)
			if v == "vmdk-twoGbMaxExtentSparse" {
				if _, err := os.Stat(filepath.Join(filepath.Dir(img), v+"-s003.img")); err != nil {
					t.Fatalf("expected three extent files: %v", err)
				}
			}
			testImage(t, img, "", "")
		})
	}
}

// TestConcurrentReads reads random ranges from many goroutines (run with
// -race) and compares them with the oracle.
func TestConcurrentReads(t *testing.T) {
	ref := refImage(t)
	for _, v := range []string{"vmdk-streamOptimized", "qcow2-v3-compressed", "qcow2-v3-extl2", "vmdk-twoGbMaxExtentSparse"} {
		t.Run(v, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), v+".img")
			run(t, script("mkvariant.sh"), v, ref, img)
			want, err := os.ReadFile(oracleRaw(t, img, ""))
			if err != nil {
				t.Fatal(err)
			}
			d, err := Open(img)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(g), 1))
					buf := make([]byte, 300000)
					for range 50 {
						off := r.Int64N(d.Size())
						n := 1 + r.IntN(len(buf))
						got, _ := d.ReadAt(buf[:n], off)
						if exp := min(int64(n), d.Size()-off); int64(got) != exp {
							t.Errorf("ReadAt(%d, %d) = %d bytes, want %d", off, n, got, exp)
							return
						}
						if string(buf[:got]) != string(want[off:off+int64(got)]) {
							t.Errorf("ReadAt(%d, %d) differs from qemu-img", off, n)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}
