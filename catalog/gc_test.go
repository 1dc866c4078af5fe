package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// storeObjects lists the store's data objects with their sizes.
func storeObjects(t *testing.T, r *Repo) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := r.Backend().List(context.Background(), "data/", func(name string, size int64) error {
		out[name] = size
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sum(m map[string]int64) (n int64) {
	for _, v := range m {
		n += v
	}
	return n
}

// TestGCAfterForget: after forgetting B of A, B, C and collecting, the store
// holds exactly the objects of a repository that only ever had A and C, so
// gc freed what B alone held.
func TestGCAfterForget(t *testing.T) { bothFormats(t, testGCAfterForget) }

func testGCAfterForget(t *testing.T, newRepo func(testing.TB) *Repo) {
	ctx := context.Background()
	full, ref := newRepo(t), newRepo(t)
	cs := testChunkSize(full)
	base := testDisk(1, 12, cs)
	disks := [][]byte{base, append(bytes.Clone(base[:6*cs]), testDisk(2, 6, cs)...), append(bytes.Clone(base[:3*cs]), testDisk(3, 9, cs)...)}
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	for i, d := range disks {
		TestWritePoint(t, full, "web01", t0.Add(time.Duration(i)*time.Hour), map[string][]byte{"disk0": d})
		if i != 1 {
			TestWritePoint(t, ref, "web01", t0.Add(time.Duration(i)*time.Hour), map[string][]byte{"disk0": d})
		}
	}
	// A crash leftover: an object no catalog key or point knows.
	orphan := testDisk(9, 1, cs)[:cs]
	if _, err := full.NewWriter().Add(ctx, NewEncoder(), orphan); err != nil {
		t.Fatal(err)
	}
	before, want := storeObjects(t, full), storeObjects(t, ref)
	if err := full.Forget(ctx, "web01", []time.Time{t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	dry, err := full.GC(ctx, GCOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := storeObjects(t, full); len(got) != len(before) {
		t.Fatalf("dry run deleted %d objects", len(before)-len(got))
	}
	res, err := full.GC(ctx, GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	after := storeObjects(t, full)
	if fmt.Sprint(after) != fmt.Sprint(want) {
		t.Fatalf("after gc the store has %d objects (%d bytes), a repository without the point has %d (%d bytes)", len(after), sum(after), len(want), sum(want))
	}
	freed := sum(before) - sum(after)
	if res.DeletedBytes != freed || res.DeletedObjects != int64(len(before)-len(after)) || dry.DeletedBytes != freed {
		t.Fatalf("gc reports %d objects / %d bytes (dry run %d bytes), the store shrank by %d / %d", res.DeletedObjects, res.DeletedBytes, dry.DeletedBytes, len(before)-len(after), freed)
	}
	if res.LiveObjects != int64(len(after)) || res.LiveBytes != sum(after) {
		t.Fatalf("live %d/%d, store %d/%d", res.LiveObjects, res.LiveBytes, len(after), sum(after))
	}
	// The catalog forgot the deleted chunks too: nothing left to delete,
	// and re-adding the orphan stores it again.
	if again, err := full.GC(ctx, GCOptions{}); err != nil || again.DeletedObjects != 0 {
		t.Fatalf("second gc: %+v %v", again, err)
	}
	if res, err := full.NewWriter().Add(ctx, NewEncoder(), orphan); err != nil || !res.New {
		t.Fatalf("re-adding a collected chunk: %+v %v", res, err)
	}
	if v, err := full.Verify(ctx, VerifyOptions{}); err != nil || len(v.Problems) != 0 || v.Points != 2 {
		t.Fatalf("verify: %+v %v", v, err)
	}
}

// TestGCKeepsChunksOfWritersInFlight: a Writer that began before gc holds
// gc back until it commits, so a chunk it found in the catalog (belonging
// only to a point forgotten meanwhile) survives.
func TestGCKeepsChunksOfWritersInFlight(t *testing.T) {
	ctx := context.Background()
	r := testRepo1(t)
	cs := r.Config().ChunkSize
	data := testDisk(4, 4, cs)
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	TestWritePoint(t, r, "a", t0, map[string][]byte{"disk0": data})

	w := r.NewWriter()
	mb := w.NewMapBuilder(int64(len(data)))
	enc := NewEncoder()
	for i := 0; i*cs < len(data); i++ {
		res, err := w.Add(ctx, enc, data[i*cs:min(len(data), (i+1)*cs)])
		if err != nil || res.New {
			t.Fatalf("add %d: %+v %v (want a dedup hit)", i, res, err)
		}
		if err := mb.Set(ctx, int64(i), res.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Forget(ctx, "a", []time.Time{t0}); err != nil {
		t.Fatal(err)
	}
	done := make(chan *GCResult)
	go func() {
		res, err := r.GC(ctx, GCOptions{})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	select {
	case <-done:
		t.Fatal("gc did not wait for the writer in flight")
	case <-time.After(300 * time.Millisecond):
	}
	root, err := mb.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{VM: "b", Time: t0, Created: time.Now().UTC(), Disks: []DiskRecord{{Name: "disk0", Size: int64(len(data)), Map: root}}}
	if err := w.Commit(ctx, m); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res != nil && res.DeletedObjects != 0 {
		t.Fatalf("gc deleted %d objects the new point uses", res.DeletedObjects)
	}
	checkPoint(t, r, "b", t0, data)
}

// TestGCReusedChunkOfForgottenPoint: a Writer that takes a chunk id from a
// point's map (as a changed-areas ingest does) while that point is
// forgotten and collected fails at Commit instead of committing a point
// with a hole.
func TestGCReusedChunkOfForgottenPoint(t *testing.T) {
	ctx := context.Background()
	r := testRepo1(t)
	cs := r.Config().ChunkSize
	data := testDisk(5, 2, cs)
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	p := TestWritePoint(t, r, "a", t0, map[string][]byte{"disk0": data})
	prev, err := r.OpenDiskMap(ctx, p, &p.Disks[0])
	if err != nil {
		t.Fatal(err)
	}
	var ids []ChunkID // read before the point goes, as a pipeline's producer does
	for i := int64(0); i < prev.Chunks(); i++ {
		id, err := prev.Chunk(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	blocker := r.NewWriter() // holds the next gc in its drain
	gcDone := make(chan error)
	go func() { _, err := r.GC(ctx, GCOptions{}); gcDone <- err }()
	for r.gc.run.Load() == nil {
		time.Sleep(time.Millisecond)
	}
	w := r.NewWriter() // began during gc
	mb := w.NewMapBuilder(int64(len(data)))
	if err := r.Forget(ctx, "a", []time.Time{t0}); err != nil {
		t.Fatal(err)
	}
	if err := blocker.Commit(ctx, &Manifest{VM: "x", Time: t0, Created: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	if err := <-gcDone; err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if err := mb.Set(ctx, int64(i), id); err != nil {
			t.Fatal(err)
		}
	}
	root, err := mb.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = w.Commit(ctx, &Manifest{VM: "a", Time: t0.Add(time.Hour), Created: time.Now().UTC(), Disks: []DiskRecord{{Name: "disk0", Size: int64(len(data)), Map: root}}})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "removed by a gc") {
		t.Fatalf("commit over collected chunks: %v", err)
	}
	if pts, _ := r.Points("a"); len(pts) != 0 {
		t.Fatalf("a point was committed: %v", pts[0].Name())
	}
}

func checkPoint(t *testing.T, r *Repo, vm string, when time.Time, want []byte) {
	t.Helper()
	p, err := r.Point(vm, FormatPointTime(when))
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.OpenDisk(context.Background(), p, "disk0")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(io.NewSectionReader(d, 0, d.Size()))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s/%s reads back wrong: %v", vm, p.Name(), err)
	}
}

// writePoint is TestWritePoint returning errors, for goroutines. Chunks
// not in changed are taken from prev's map, as a changed-areas ingest does.
func writePoint(r *Repo, vm string, when time.Time, data []byte, prev *DiskMap, changed map[int64]bool) error {
	ctx := context.Background()
	w := r.NewWriter()
	enc := NewEncoder()
	cs := r.Config().ChunkSize
	mb := w.NewMapBuilder(int64(len(data)))
	for i := int64(0); i*int64(cs) < int64(len(data)); i++ {
		var id ChunkID
		if prev != nil && !changed[i] {
			var err error
			if id, err = prev.Chunk(ctx, i); err != nil {
				return err
			}
		} else {
			res, err := w.Add(ctx, enc, data[i*int64(cs):min(int64(len(data)), (i+1)*int64(cs))])
			if err != nil {
				return err
			}
			id = res.ID
		}
		if err := mb.Set(ctx, i, id); err != nil {
			return err
		}
	}
	root, err := mb.Finish(ctx)
	if err != nil {
		return err
	}
	return w.Commit(ctx, &Manifest{VM: vm, Time: when, Created: time.Now().UTC(), Disks: []DiskRecord{{Name: "disk0", Size: int64(len(data)), Map: root}}})
}

// TestGCConcurrentWithIngestAndReads runs gc and forget over and over
// while points are written (full and changed-areas style) and read; then
// every remaining point must verify and read back its own bytes.
func TestGCConcurrentWithIngestAndReads(t *testing.T) {
	ctx := context.Background()
	r := testRepo1(t)
	cs := r.Config().ChunkSize
	t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	want := map[string][]byte{} // vm/point -> content; guarded by mu
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	report := func(err error) { // never blocks: the first errors are enough
		select {
		case errc <- err:
		default:
		}
	}
	const rounds = 12
	for _, vm := range []string{"full", "incr"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(len(vm))))
			data := testDisk(7, 16, cs)
			for k := 0; k < rounds; k++ {
				when := t0.Add(time.Duration(k) * time.Hour)
				changed := map[int64]bool{}
				for j := 0; j < 3; j++ {
					c := rng.Int63n(16)
					changed[c] = true
					rng.Read(data[c*int64(cs) : c*int64(cs)+100])
				}
				var prev *DiskMap
				if vm == "incr" && k > 0 {
					p, err := r.Point(vm, Latest)
					if err == nil {
						prev, err = r.OpenDiskMap(ctx, p, &p.Disks[0])
					}
					if err != nil {
						report(err)
						return
					}
				}
				err := writePoint(r, vm, when, data, prev, changed)
				if err != nil && !(prev != nil && errors.Is(err, ErrNotFound)) {
					report(fmt.Errorf("%s point %d: %w", vm, k, err))
					return
				}
				if err == nil {
					mu.Lock()
					want[vm+"/"+FormatPointTime(when)] = bytes.Clone(data)
					mu.Unlock()
				}
			}
		}()
	}
	var bg sync.WaitGroup
	var gcRuns, gcDeleted int64 // written by the forget goroutine only
	bg.Add(2)
	go func() { // forget all but the newest point, and collect
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, vm := range []string{"full", "incr"} {
				times, _ := r.PointTimes(vm)
				if len(times) > 1 {
					if err := r.Forget(ctx, vm, times[:len(times)-1]); err != nil && !errors.Is(err, ErrNotFound) {
						report(err)
					}
				}
			}
			res, err := r.GC(ctx, GCOptions{})
			if err != nil {
				report(fmt.Errorf("gc: %w", err))
				return
			}
			gcRuns++
			gcDeleted += res.DeletedObjects
		}
	}()
	go func() { // read the newest points as the mount would
		defer bg.Done()
		buf := make([]byte, 64<<10)
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, vm := range []string{"full", "incr"} {
				p, err := r.Point(vm, Latest)
				if err != nil {
					continue
				}
				d, err := r.OpenDisk(ctx, p, "disk0")
				for off := int64(0); err == nil && off < d.Size(); off += int64(len(buf)) {
					_, err = d.ReadAt(buf, off)
					if err == io.EOF {
						err = nil
					}
				}
				if err != nil {
					// Only a point forgotten meanwhile may lose chunks.
					if _, perr := r.Point(vm, p.Name()); perr == nil {
						report(fmt.Errorf("read %s/%s while listed: %w", vm, p.Name(), err))
					}
				}
			}
		}
	}()
	wg.Wait()
	close(stop)
	bg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if _, err := r.GC(ctx, GCOptions{}); err != nil {
		t.Fatal(err)
	}
	v, err := r.Verify(ctx, VerifyOptions{})
	if err != nil || len(v.Problems) != 0 {
		t.Fatalf("verify: %+v %v", v, err)
	}
	pts, _ := r.Points("")
	var names []string
	for _, p := range pts {
		names = append(names, p.VM+"/"+p.Name())
		checkPoint(t, r, p.VM, p.Time, want[p.VM+"/"+p.Name()])
	}
	sort.Strings(names)
	t.Logf("%d gc runs deleted %d objects; points left: %v", gcRuns, gcDeleted, names)
	if gcRuns < 2 || gcDeleted == 0 {
		t.Fatal("gc did not run alongside the writers")
	}
	if len(pts) < 2 {
		t.Fatalf("points left: %v", names)
	}
}

// TestGCDoesNotWaitForDroppedWriters: an ingest that failed before Commit
// drops its Writer; gc must not wait for it forever.
func TestGCDoesNotWaitForDroppedWriters(t *testing.T) {
	r := testRepo1(t)
	func() {
		w := r.NewWriter()
		if _, err := w.Add(context.Background(), NewEncoder(), testDisk(6, 1, r.Config().ChunkSize)[:r.Config().ChunkSize]); err != nil {
			t.Fatal(err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := r.GC(ctx, GCOptions{})
	if err != nil {
		t.Fatalf("gc with a dropped writer: %v", err)
	}
	if res.DeletedObjects != 1 {
		t.Fatalf("the dropped writer's chunk was not collected: %+v", res)
	}
}
