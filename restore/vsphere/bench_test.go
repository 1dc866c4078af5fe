package vsphere

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/format"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	ivs "github.com/vmarchive/vmarchive/ingest/vsphere"
	"github.com/vmarchive/vmarchive/ingest/vsphere/vcsim"
)

// BenchmarkRestore restores a point of VMARCHIVE_BENCH_IMAGE (bench/vsphere.sh
// sets it) into the simulator, whose NFC endpoint hashes what it receives:
// MB/s of the disk and of its data (the non-hole extents of the point's
// map), and the bytes sent against that data. The point is the image
// ingested locally with the simulator VM's configuration as config.json.
func BenchmarkRestore(b *testing.B) {
	img := os.Getenv("VMARCHIVE_BENCH_IMAGE")
	if img == "" {
		b.Skip("set VMARCHIVE_BENCH_IMAGE (bench/vsphere.sh does)")
	}
	ctx := context.Background()
	var received atomic.Int64
	s, err := vcsim.Start(ctx, img, filepath.Join(b.TempDir(), "ds"), vcsim.Options{Link: true, Username: "u", Password: "p",
		WrapNFC: func(serve http.HandlerFunc) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				e := &env{}
				r.Body = &serverCount{r: r.Body, e: e}
				serve(w, r)
				received.Add(e.received.Load())
			}
		}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c, err := ivs.Connect(ctx, ivs.Config{URL: s.URL.String(), Username: "u", Password: "p", Insecure: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	repo, m := benchPoint(b, c, s, img)
	var data int64
	d, err := repo.OpenDisk(ctx, m, "scsi0-0")
	if err != nil {
		b.Fatal(err)
	}
	d.Map().Extents(ctx, 0, d.Size(), func(e catalog.Extent) error {
		if !e.ID.IsZero() {
			data += e.Len
		}
		return nil
	})
	b.SetBytes(d.Size())
	b.ResetTimer()
	var sent int64
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		received.Store(0)
		res, err := Restore(ctx, c, repo, m, Options{As: fmt.Sprintf("restored-%d", i)})
		if err != nil {
			b.Fatal(err)
		}
		sent = res.Disks[0].Sent
		if received.Load() != sent {
			b.Fatalf("server received %d bytes, restore sent %d", received.Load(), sent)
		}
	}
	b.ReportMetric((cpuTime()-cpu).Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(data)*float64(b.N)/b.Elapsed().Seconds()/1e6, "data-MB/s")
	b.ReportMetric(float64(sent)/1e6, "sent-MB")
	b.ReportMetric(float64(data)/1e6, "data-MB")
	b.ReportMetric(float64(sent)/float64(data)*100, "%sent/data")
}

// cpuTime is the process's user and system CPU time (the simulator's
// share included: it runs in this process).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchPoint ingests img locally as web01's disk scsi0-0, with the
// simulator VM's configuration.
func benchPoint(b *testing.B, c *ivs.Client, s *vcsim.Sim, img string) (*catalog.Repo, *catalog.Manifest) {
	ctx := context.Background()
	dir := filepath.Join(b.TempDir(), "repo")
	if _, err := catalog.Init(ctx, dir, catalog.InitOptions{Chunking: format.DefaultChunking(catalog.DefaultChunkSize)}); err != nil {
		b.Fatal(err)
	}
	repo, err := catalog.Open(ctx, dir, catalog.Options{Command: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { repo.Close() })
	var vm mo.VirtualMachine
	if err := object.NewVirtualMachine(c.Vim(), s.VM).Properties(ctx, s.VM, []string{"name", "config"}, &vm); err != nil {
		b.Fatal(err)
	}
	cj, err := ivs.ConfigJSON(vm.Name, s.VM.Value, vm.Config)
	if err != nil {
		b.Fatal(err)
	}
	disk, err := image.Open(img)
	if err != nil {
		b.Fatal(err)
	}
	m, err := ingest.Ingest(ctx, repo, ingest.Options{VM: "web01", SourceKind: "vsphere", Config: map[string][]byte{"config.json": cj}},
		[]ingest.DiskSpec{{Name: "scsi0-0", Disk: disk, Source: img, Local: true}})
	if err != nil {
		b.Fatal(err)
	}
	return repo, m
}
