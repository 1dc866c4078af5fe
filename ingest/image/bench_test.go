package image

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// benchVariants are read by BenchmarkReadAt; "raw" is the source itself.
var benchVariants = []string{
	"raw", "vmdk-monolithicSparse", "vmdk-streamOptimized", "vmdk-monolithicFlat",
	"qcow2-v3", "qcow2-v3-compressed", "qcow2-v3-extl2",
	"vhd-dynamic", "vhdx-dynamic",
}

var benchMu sync.Mutex

// benchImage builds (once, cached under os.TempDir() by the hash of the
// scripts) the 256 MiB benchmark disk in the given variant.
func benchImage(b *testing.B, variant string) string {
	b.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		b.Skip("qemu-img not installed")
	}
	benchMu.Lock()
	defer benchMu.Unlock()
	h := sha256.New()
	for _, s := range []string{"mkbench.sh", "mkvariant.sh"} {
		f, err := os.Open(script(s))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(h, f)
		f.Close()
	}
	dir := filepath.Join(os.TempDir(), "vmarchive-image-bench-"+hex.EncodeToString(h.Sum(nil))[:12])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	ref := filepath.Join(dir, "bench.raw")
	if _, err := os.Stat(ref); err != nil {
		run(b, script("mkbench.sh"), ref+".tmp")
		if err := os.Rename(ref+".tmp", ref); err != nil {
			b.Fatal(err)
		}
	}
	if variant == "raw" {
		return ref
	}
	img := filepath.Join(dir, variant+".img")
	if _, err := os.Stat(img); err != nil {
		tmp := filepath.Join(dir, "tmp-"+variant+".img")
		run(b, script("mkvariant.sh"), variant, ref, tmp)
		if err := os.Rename(tmp, img); err != nil {
			b.Fatal(err)
		}
	}
	return img
}

// BenchmarkReadAt reads the disk in 1 MiB chunks at 1 MiB-aligned offsets,
// as the ingest pipeline does: sequentially from one goroutine, and from
// two goroutines taking chunks in turn.
func BenchmarkReadAt(b *testing.B) {
	for _, v := range benchVariants {
		b.Run(v, func(b *testing.B) {
			d, err := Open(benchImage(b, v))
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			chunks := d.Size() >> 20
			b.Run("seq", func(b *testing.B) {
				buf := make([]byte, 1<<20)
				b.SetBytes(1 << 20)
				for i := 0; b.Loop(); i++ {
					if _, err := d.ReadAt(buf, int64(i)%chunks<<20); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("2goroutines", func(b *testing.B) {
				var next atomic.Int64
				b.SetBytes(1 << 20)
				b.SetParallelism(1)
				b.RunParallel(func(pb *testing.PB) {
					buf := make([]byte, 1<<20)
					for pb.Next() {
						off := (next.Add(1) % chunks) << 20
						if _, err := d.ReadAt(buf, off); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}

// BenchmarkAllocated measures walking the tables of the 256 MiB disk.
func BenchmarkAllocated(b *testing.B) {
	for _, v := range []string{"vmdk-monolithicSparse", "qcow2-v3", "vhd-dynamic", "vhdx-dynamic"} {
		b.Run(v, func(b *testing.B) {
			d, err := Open(benchImage(b, v))
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			for b.Loop() {
				if _, err := d.Allocated(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
