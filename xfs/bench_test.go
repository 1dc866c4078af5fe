package xfs

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// BenchmarkTree walks bench/xfs.sh's 100k-file image (built there, cached
// in .cache/bench) the way tar through the mount does, without FUSE:
// every directory listed, every inode stated, every file read whole.
// It tells the reader's own cost apart from the mount's.
func BenchmarkTree(b *testing.B) {
	_, file, _, _ := runtime.Caller(0)
	img := filepath.Join(filepath.Dir(file), "..", ".cache", "bench", "tree100k-xfs.img")
	if _, err := os.Stat(img); err != nil {
		b.Skipf("%s: run bench/xfs.sh once to build it", img)
	}
	buf := make([]byte, 1<<20)
	for b.Loop() {
		fs := openImage(b, img, nil)
		files, bytes := 0, int64(0)
		var rec func(dir uint64)
		rec = func(dir uint64) {
			es, err := fs.ReadDir(dir)
			if err != nil {
				b.Fatal(err)
			}
			for _, e := range es {
				a, err := fs.Stat(e.Ino)
				if err != nil {
					b.Fatal(err)
				}
				switch e.Mode {
				case sIFDIR:
					rec(e.Ino)
				case sIFREG:
					f, err := fs.Open(e.Ino)
					if err != nil {
						b.Fatal(err)
					}
					n, err := f.ReadAt(buf[:min(a.Size, int64(len(buf)))], 0)
					if err != nil && err != io.EOF {
						b.Fatal(err)
					}
					files, bytes = files+1, bytes+int64(n)
				}
			}
		}
		rec(fs.Root())
		b.ReportMetric(float64(files), "files")
		b.SetBytes(bytes)
	}
}
