package ingest

import (
	"bytes"
	"context"
	"math/rand"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest/image"
)

// BenchmarkPipeline is the pipeline's own speed on a 512 MiB disk in
// memory (random data with a quarter zeros): a first ingest, which stores
// every chunk, a changed-areas ingest of 1% scattered writes, and a re-ingest of the unchanged disk, which only reads,
// cuts, hashes and looks chunks up.
func BenchmarkPipeline(b *testing.B) {
	data := make([]byte, 512<<20)
	rng := rand.New(rand.NewSource(1))
	for off := 0; off < len(data); off += 4 << 20 {
		rng.Read(data[off : off+3<<20])
	}
	d := &memDisk{data: data, alloc: []image.Extent{{Off: 0, Len: int64(len(data))}}, noLog: true}
	ctx := context.Background()
	sec := int64(0)
	ingest := func(b *testing.B, r *catalog.Repo) {
		sec++
		if _, err := Ingest(ctx, r, Options{VM: "vm", Time: time.Unix(1e9+sec, 0)}, []DiskSpec{{Name: "d0", Disk: d}}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("first", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			b.StopTimer()
			r := catalog.TestRepo2(b)
			b.StartTimer()
			cpu := cpuTime()
			ingest(b, r)
			b.ReportMetric((cpuTime() - cpu).Seconds(), "cpu-s/op")
		}
	})
	// 1% of the disk rewritten in 64 KiB writes at random blocks, ingested
	// with the changed-areas list (what CBT gives).
	b.Run("changed-1pct", func(b *testing.B) {
		r := catalog.TestRepo2(b)
		ingest(b, r)
		v2 := bytes.Clone(data)
		var changed []image.Extent
		for range len(data) / 100 / (64 << 10) {
			off := rng.Int63n(int64(len(data))-64<<10) / 4096 * 4096
			rng.Read(v2[off : off+64<<10])
			changed = append(changed, image.Extent{Off: off, Len: 64 << 10})
		}
		d2 := &memDisk{data: v2, alloc: d.alloc, noLog: true}
		b.SetBytes(int64(len(data)))
		runtime.GC()
		b.ResetTimer()
		for b.Loop() {
			sec++
			cpu := cpuTime()
			if _, err := Ingest(ctx, r, Options{VM: "vm", Time: time.Unix(1e9+sec, 0)}, []DiskSpec{{Name: "d0", Disk: d2, Changed: changed}}); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric((cpuTime() - cpu).Seconds(), "cpu-s/op")
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		r := catalog.TestRepo2(b)
		ingest(b, r)
		b.SetBytes(int64(len(data)))
		b.ResetTimer()
		for b.Loop() {
			cpu := cpuTime()
			ingest(b, r)
			b.ReportMetric((cpuTime() - cpu).Seconds(), "cpu-s/op")
		}
	})
}

// cpuTime is the CPU time (user and system) this process has used; on a
// shared machine it varies less than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
