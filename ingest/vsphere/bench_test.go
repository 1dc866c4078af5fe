package vsphere

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/format"
	"github.com/vmarchive/vmarchive/ingest/areas"
	"github.com/vmarchive/vmarchive/ingest/image"
)

// BenchmarkVSphere ingests VMARCHIVE_BENCH_IMAGE through the simulator's
// datastore HTTP endpoint (full), then VMARCHIVE_BENCH_IMAGE2 with the
// changed areas in VMARCHIVE_BENCH_CHANGED answered as CBT (incremental).
// bench/vsphere.sh sets them; without them the benchmark skips.
func BenchmarkVSphere(b *testing.B) {
	img, img2, list := os.Getenv("VMARCHIVE_BENCH_IMAGE"), os.Getenv("VMARCHIVE_BENCH_IMAGE2"), os.Getenv("VMARCHIVE_BENCH_CHANGED")
	if img == "" || img2 == "" || list == "" {
		b.Skip("set VMARCHIVE_BENCH_IMAGE, VMARCHIVE_BENCH_IMAGE2 and VMARCHIVE_BENCH_CHANGED (bench/vsphere.sh does)")
	}
	ctx := context.Background()
	newRepo := func(b *testing.B) *catalog.Repo {
		dir := filepath.Join(b.TempDir(), "repo")
		if _, err := catalog.Init(ctx, dir, catalog.InitOptions{Chunking: format.DefaultChunking(catalog.DefaultChunkSize)}); err != nil {
			b.Fatal(err)
		}
		r, err := catalog.Open(ctx, dir, catalog.Options{Command: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { r.Close() })
		return r
	}
	link := func(b *testing.B, s *sim, target string) {
		os.Remove(s.flat)
		if err := os.Symlink(target, s.flat); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("full", func(b *testing.B) {
		s := newSim(b, img, true)
		c := s.connect(b)
		b.SetBytes(s.size)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			repo := newRepo(b)
			s.served.Store(0)
			cpu := cpuTime()
			r := c.Backup(ctx, repo, findVM(b, c), Options{Streams: benchStreams(), Clock: clock()})
			if r.Err != nil {
				b.Fatal(r.Err)
			}
			b.ReportMetric((cpuTime() - cpu).Seconds(), "cpu-s")
			b.ReportMetric(float64(s.served.Load())/float64(s.size)*100, "%disk-over-http")
		}
	})
	// A first run with CBT: "*" answers the image's allocated areas (its
	// data, not its holes), as ESXi does for a thin disk, so only those
	// are read — like a local ingest of the sparse image.
	b.Run("first-cbt-allocated", func(b *testing.B) {
		s := newSim(b, img, true)
		c := s.connect(b)
		fake := installFakeCBT(c, s.size)
		alloc, err := fileData(img)
		if err != nil {
			b.Fatal(err)
		}
		s.setChangeID("52 aa/1")
		fake.set("*", alloc)
		b.SetBytes(s.size)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			repo := newRepo(b)
			s.served.Store(0)
			cpu := cpuTime()
			r := c.Backup(ctx, repo, findVM(b, c), Options{CBT: true, Streams: benchStreams(), Clock: clock()})
			if r.Err != nil {
				b.Fatal(r.Err)
			}
			b.ReportMetric((cpuTime() - cpu).Seconds(), "cpu-s")
			b.ReportMetric(float64(s.served.Load())/float64(s.size)*100, "%disk-over-http")
		}
	})
	b.Run("incremental-1pct", func(b *testing.B) {
		s := newSim(b, img, true)
		c := s.connect(b)
		fake := installFakeCBT(c, s.size)
		f, err := os.Open(list)
		if err != nil {
			b.Fatal(err)
		}
		changed, err := areas.Parse(f, s.size)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(s.size)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			repo := newRepo(b)
			tick := clock()
			link(b, s, img)
			s.setChangeID("52 aa/1")
			fake.set("*", []image.Extent{{Off: 0, Len: s.size}})
			if r := c.Backup(ctx, repo, findVM(b, c), Options{CBT: true, Streams: benchStreams(), Clock: tick}); r.Err != nil {
				b.Fatal(r.Err)
			}
			link(b, s, img2)
			s.setChangeID("52 aa/2")
			fake.set("52 aa/1", changed)
			s.served.Store(0)
			b.StartTimer()
			r := c.Backup(ctx, repo, findVM(b, c), Options{CBT: true, Streams: benchStreams(), Clock: tick})
			if r.Err != nil {
				b.Fatal(r.Err)
			}
			b.ReportMetric(float64(s.served.Load())/float64(s.size)*100, "%disk-over-http")
		}
	})
}

// benchStreams is VMARCHIVE_BENCH_STREAMS, default 4.
func benchStreams() int {
	if n, err := strconv.Atoi(os.Getenv("VMARCHIVE_BENCH_STREAMS")); err == nil && n > 0 {
		return n
	}
	return 4
}

// fileData lists the data (not hole) areas of a file, with SEEK_DATA and
// SEEK_HOLE.
func fileData(p string) ([]image.Extent, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	const seekData, seekHole = 3, 4
	var out []image.Extent
	for off := int64(0); off < st.Size(); {
		data, err := f.Seek(off, seekData)
		if err != nil {
			break // ENXIO: no data after off
		}
		hole, err := f.Seek(data, seekHole)
		if err != nil {
			return nil, err
		}
		out = append(out, image.Extent{Off: data, Len: hole - data})
		off = hole
	}
	return out, nil
}

// cpuTime is the CPU time (user and system) this process has used: the
// simulator's and vmarchive's alike. On a shared machine it varies less
// than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
