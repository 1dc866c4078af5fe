package vsphere

import (
	"bytes"
	"context"
	"math/rand"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/find"

	"github.com/vmarchive/vmarchive/ingest/areas"
	"github.com/vmarchive/vmarchive/ingest/bwlimit"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/ingest/vsphere/layout"
	"github.com/vmarchive/vmarchive/ingest/vsphere/vcsim"
)

// raDisk is web01's disk read through a readahead following plan, with
// small windows so that a test covers many.
func raDisk(t *testing.T, plan []image.Extent, streams int, size, cs int64) (*sim, *flatDisk, []byte) {
	t.Helper()
	img := filepath.Join(t.TempDir(), "web01.raw")
	demoDisk(t, img, 1)
	s := newSim(t, img, false)
	c := s.connect(t)
	ctx := context.Background()
	ds, err := find.NewFinder(c.Vim(), true).Datastore(ctx, "/DC0/datastore/vmadata")
	if err != nil {
		t.Fatal(err)
	}
	files, err := c.datastoreFiles(ctx, ds.Reference(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The disk: the flat file, then 1 MiB of zeros past its end.
	segs := []layout.Segment{
		{Off: 0, Len: s.size, File: vcsim.DiskDir + "/web01-flat.vmdk"},
		{Off: s.size, Len: 1 << 20},
	}
	d := &flatDisk{ctx: ctx, files: files, size: s.size + 1<<20, segs: segs}
	d.readAhead(plan, streams, size, cs)
	t.Cleanup(d.close)
	return s, d, append(mustRead(t, s.flat), make([]byte, 1<<20)...)
}

// TestReadaheadPlanOnce reads a plan's areas in order from several
// goroutines, as the pipeline does (a worker per "chunk", here 64 KiB):
// every byte is right and each planned byte crosses the wire once,
// nothing else. The plan has large areas and many scattered small ones.
func TestReadaheadPlanOnce(t *testing.T) {
	plan := []image.Extent{{Off: 4096, Len: 10000}, {Off: 1 << 20, Len: 3<<20 + 512}, {Off: 9<<20 - 512, Len: 700 << 10}, {Off: 64<<20 - 4096, Len: 8192}}
	rng := rand.New(rand.NewSource(3))
	for off := int64(20 << 20); off < 60<<20; off += 4096 * (1 + rng.Int63n(64)) {
		plan = append(plan, image.Extent{Off: off, Len: 1 + rng.Int63n(4096)})
	}
	plan = areas.Merge(plan)
	const cs = 64 << 10
	s, d, want := raDisk(t, plan, 2, 256<<10, cs)
	// The pieces the pipeline asks for: the plan cut at chunks.
	var pieces []image.Extent
	for _, e := range plan {
		for off := e.Off; off < e.Off+e.Len; {
			end := min(e.Off+e.Len, (off/cs+1)*cs)
			pieces = append(pieces, image.Extent{Off: off, Len: end - off})
			off = end
		}
	}
	jobs := make(chan image.Extent)
	var wg sync.WaitGroup
	errs := make(chan error, len(pieces))
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				buf := make([]byte, p.Len)
				if _, err := d.ReadAt(buf, p.Off); err != nil {
					errs <- err
					continue
				}
				if !bytes.Equal(buf, want[p.Off:p.Off+p.Len]) {
					t.Errorf("bytes %d+%d differ", p.Off, p.Len)
				}
			}
		}()
	}
	for _, p := range pieces {
		jobs <- p
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var planned int64
	for _, e := range plan {
		planned += e.Len
	}
	if got := servedSettled(s, planned); got != planned {
		t.Fatalf("%d bytes over HTTP, want the plan's %d", got, planned)
	}
	if got := d.read.Load(); got != planned {
		t.Fatalf("disk counted %d bytes fetched, want %d", got, planned)
	}
}

// TestReadaheadAnyOrder reads random ranges, inside and outside the plan
// and across the end of the file, in any order from several goroutines:
// every byte is right and nothing hangs, even when windows are skipped
// and never fully read.
func TestReadaheadAnyOrder(t *testing.T) {
	plan := []image.Extent{{Off: 0, Len: 100 << 20}}
	_, d, want := raDisk(t, plan, 2, 512<<10, 64<<10)
	rng := rand.New(rand.NewSource(7))
	type req struct{ off, n int64 }
	var reqs []req
	for i := 0; i < 120; i++ {
		n := 1 + rng.Int63n(1<<20)
		reqs = append(reqs, req{rng.Int63n(int64(len(want)) - n), n})
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := w; k < len(reqs); k += 4 {
				r := reqs[k]
				buf := make([]byte, r.n)
				if _, err := d.ReadAt(buf, r.off); err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(buf, want[r.off:r.off+r.n]) {
					t.Errorf("bytes %d+%d differ", r.off, r.n)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestIntersect(t *testing.T) {
	got := []image.Extent{{Off: 0, Len: 3072}, {Off: 4096, Len: 1004}}
	in := intersect(got, []image.Extent{{Off: 1000, Len: 100}, {Off: 3000, Len: 2000}})
	wantIn := []image.Extent{{Off: 1000, Len: 100}, {Off: 3000, Len: 72}, {Off: 4096, Len: 904}}
	if len(in) != len(wantIn) {
		t.Fatalf("intersect = %v, want %v", in, wantIn)
	}
	for i := range in {
		if in[i] != wantIn[i] {
			t.Fatalf("intersect = %v, want %v", in, wantIn)
		}
	}
}

func TestWindowFor(t *testing.T) {
	for _, tc := range []struct {
		limit int64
		o     Options
		want  int64
	}{
		{0, Options{}, 16 << 20},                           // 5 windows of 16 MiB
		{0, Options{ParallelVMs: 4}, 4<<20 + 12<<16},       // 96 MiB over 20 windows
		{0, Options{ParallelVMs: 64, Streams: 8}, 1 << 20}, // never below 1 MiB
		{16 << 20, Options{}, 2 << 20},                     // an eighth of a second at the limit
		{1 << 20, Options{}, 1 << 20},
	} {
		if got := windowFor(bwlimit.New(tc.limit), tc.o); got != tc.want {
			t.Errorf("windowFor(limit %d, %+v) = %d, want %d", tc.limit, tc.o, got, tc.want)
		}
		if n := int64(max(tc.o.ParallelVMs, 1) * (streams(tc.o) + 1)); tc.want > 1<<20 && n*tc.want > readAheadBudget {
			t.Errorf("%+v: %d windows of %d bytes exceed the budget", tc.o, n, tc.want)
		}
	}
}

// TestReadaheadLateReader: a worker that falls behind (descheduled while
// the others read on) asks for its chunk after the readahead has given up
// that chunk's window; the chunk is still served without a second fetch.
func TestReadaheadLateReader(t *testing.T) {
	const cs = 64 << 10
	plan := []image.Extent{{Off: 0, Len: 8 << 20}}
	s, d, want := raDisk(t, plan, 2, 256<<10, cs)
	late := []int64{1 * cs, 5 * cs, 9 * cs} // one chunk in each of the first three windows, left for last
	read := func(off int64) {
		buf := make([]byte, cs)
		if _, err := d.ReadAt(buf, off); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, want[off:off+cs]) {
			t.Fatalf("bytes at %d differ", off)
		}
	}
	for off := int64(0); off < 8<<20; off += cs {
		if !slices.Contains(late, off) {
			read(off)
		}
	}
	for _, off := range late {
		read(off)
	}
	if got := servedSettled(s, 8<<20); got != 8<<20 {
		t.Fatalf("%d bytes over HTTP, want the plan's %d", got, 8<<20)
	}
}

// servedSettled is the flat-file bytes served, once at least want or two
// seconds on: the handler counts a response only after its last byte went
// out, so the client can be done before the count is.
func servedSettled(s *sim, want int64) int64 {
	for deadline := time.Now().Add(2 * time.Second); s.served.Load() < want && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	return s.served.Load()
}
