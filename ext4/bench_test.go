package ext4

import (
	"io"
	"os"
	"testing"
)

// BenchmarkWalkRead walks the whole tree of the image named by
// EXT4_BENCH_IMAGE (see bench/ext4.sh) and reads every regular file, like
// `tar -cf - .` would. It reports throughput over the file bytes.
func BenchmarkWalkRead(b *testing.B) {
	path := os.Getenv("EXT4_BENCH_IMAGE")
	if path == "" {
		b.Skip("EXT4_BENCH_IMAGE not set (bench/ext4.sh builds one)")
	}
	f, err := os.Open(path)
	if err != nil {
		b.Skip(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	buf := make([]byte, 1<<20)
	var total, files int64
	for b.Loop() {
		fs, err := Open(f, st.Size(), nil)
		if err != nil {
			b.Fatal(err)
		}
		total, files = 0, 0
		var rec func(dir uint64)
		rec = func(dir uint64) {
			ents, err := fs.ReadDir(dir)
			if err != nil {
				b.Fatal(err)
			}
			for _, e := range ents {
				if _, err := fs.Stat(e.Ino); err != nil {
					b.Fatal(err)
				}
				switch e.Mode {
				case sIFDIR:
					rec(e.Ino)
				case sIFREG:
					fl, err := fs.Open(e.Ino)
					if err != nil {
						b.Fatal(err)
					}
					for off := int64(0); off < fl.Size(); {
						n, err := fl.ReadAt(buf, off)
						off += int64(n)
						if err == io.EOF {
							break
						}
						if err != nil {
							b.Fatal(err)
						}
					}
					total += fl.Size()
					files++
				case sIFLNK:
					if _, err := fs.Readlink(e.Ino); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
		rec(RootIno)
	}
	b.SetBytes(total)
	b.ReportMetric(float64(files), "files")
}
