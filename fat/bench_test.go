package fat

import (
	"os"
	"os/exec"
	"testing"
)

// benchImage returns the 256 MiB FAT32 image of testimages/fat/bench.sh:
// the path in $FAT_BENCH_IMAGE, or one built (and cached) by the script.
// Without either the benchmark is skipped, even under CI.
func benchImage(b *testing.B) string {
	if p := os.Getenv("FAT_BENCH_IMAGE"); p != "" {
		return p
	}
	for _, tool := range []string{"mkfs.fat", "mcopy"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("no $FAT_BENCH_IMAGE and %s is missing to build one", tool)
		}
	}
	return buildImage(b, "bench.sh")
}

// BenchmarkWalkRead opens the volume, walks every directory and reads
// every file in 1 MiB ReadAt calls; bytes/s counts file bytes.
func BenchmarkWalkRead(b *testing.B) {
	f, err := os.Open(benchImage(b))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	buf := make([]byte, 1<<20)
	var total int64
	for i := 0; i < b.N; i++ {
		fs, err := Open(f, st.Size(), nil)
		if err != nil {
			b.Fatal(err)
		}
		nodes, err := walk(fs, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		total = 0
		for _, n := range nodes {
			if n.Mode&modeDir != 0 {
				continue
			}
			file, err := fs.Open(n.Ino)
			if err != nil {
				b.Fatal(err)
			}
			for off := int64(0); off < file.Size(); off += int64(len(buf)) {
				k, err := file.ReadAt(buf, off)
				if err != nil && off+int64(k) < file.Size() {
					b.Fatal(err)
				}
			}
			total += file.Size()
		}
	}
	b.SetBytes(total)
}

// BenchmarkWalk is the metadata part alone: open, walk, Stat and Open
// (which follows each cluster chain) every file.
func BenchmarkWalk(b *testing.B) {
	f, err := os.Open(benchImage(b))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	for i := 0; i < b.N; i++ {
		fs, err := Open(f, st.Size(), nil)
		if err != nil {
			b.Fatal(err)
		}
		nodes, err := walk(fs, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range nodes {
			if _, err := fs.Open(n.Ino); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkAllocated maps the whole FAT of the benchmark image.
func BenchmarkAllocated(b *testing.B) {
	f, err := os.Open(benchImage(b))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	fs, err := Open(f, st.Size(), nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		if _, err := fs.Allocated(); err != nil {
			b.Fatal(err)
		}
	}
}
