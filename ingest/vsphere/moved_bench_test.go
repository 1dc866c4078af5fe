package vsphere

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/format"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// movedPair builds two 64 MiB ext4 disks (mke2fs -d) holding 40 random
// files of 300 KiB to 1.3 MiB; the second lacks two of them, so
// mke2fs lays the others out anew: the files moved. It returns the
// images and the bytes of the files.
func movedPair(b *testing.B) ([2]string, int64) {
	testenv.NeedTools(b, "mke2fs")
	dir := b.TempDir()
	var imgs [2]string
	var fileBytes int64
	for v := range 2 {
		tree := filepath.Join(dir, fmt.Sprint("tree", v))
		os.MkdirAll(tree, 0o755)
		rng := rand.New(rand.NewPCG(9, 0))
		for i := range 40 {
			data := make([]byte, 300<<10+rng.IntN(1<<20))
			rand.NewChaCha8([32]byte{byte(i)}).Read(data)
			if v == 1 && (i == 3 || i == 11) {
				continue
			}
			if v == 0 {
				fileBytes += int64(len(data))
			}
			if err := os.WriteFile(filepath.Join(tree, fmt.Sprintf("f%02d", i)), data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		imgs[v] = filepath.Join(dir, fmt.Sprint("v", v, ".img"))
		if out, err := exec.Command("mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-d", tree, imgs[v], "64M").CombinedOutput(); err != nil {
			b.Fatalf("mke2fs: %v\n%s", err, out)
		}
	}
	return imgs, fileBytes
}

// BenchmarkMovedFiles captures the two disks of movedPair as two points
// of one VM through the simulator (full reads, default 1 MiB chunking),
// with and without file boundaries, and reports the bytes each point
// stored and what the boundaries walk fetched.
func BenchmarkMovedFiles(b *testing.B) {
	imgs, fileBytes := movedPair(b)
	ctx := context.Background()
	for _, bounds := range []bool{true, false} {
		b.Run(fmt.Sprint("boundaries=", bounds), func(b *testing.B) {
			s := newSim(b, imgs[0], true)
			c := s.connect(b)
			for i := 0; i < b.N; i++ {
				repo := catalog.TestRepoWith(b, catalog.InitOptions{Chunking: format.DefaultChunking(catalog.DefaultChunkSize)})
				clk := clock()
				var stored [2]int64
				var walk WalkStats
				for v, img := range imgs {
					os.Remove(s.flat)
					if err := os.Symlink(img, s.flat); err != nil {
						b.Fatal(err)
					}
					opts := Options{Clock: clk}
					if bounds {
						opts.Walk = testWalk
					}
					r := c.Backup(ctx, repo, findVM(b, c), opts)
					if r.Err != nil {
						b.Fatal(r.Err)
					}
					d, _ := r.Manifest.Disk("scsi0-0")
					stored[v] = d.Stats.NewBytes
					walk.Bytes += r.Walk.Bytes
					walk.Requests += r.Walk.Requests
				}
				b.ReportMetric(float64(fileBytes)/(1<<20), "MiB-files")
				b.ReportMetric(float64(stored[0])/(1<<20), "MiB-point1")
				b.ReportMetric(float64(stored[1])/(1<<20), "MiB-point2")
				b.ReportMetric(float64(walk.Requests)/2, "walk-reqs/point")
				b.ReportMetric(float64(walk.Bytes)/2/(1<<10), "walk-KiB/point")
			}
		})
	}
}
