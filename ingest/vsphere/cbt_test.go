package vsphere

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/ingest/vsphere/vcsim"
)

// fakeCBT answers QueryChangedDiskAreas, which the simulator lacks, in the
// client's round tripper; every other call goes to the simulator.
type fakeCBT struct {
	next     soap.RoundTripper
	capacity int64
	page     int64 // bytes covered per answer, to exercise paging

	mu    sync.Mutex
	areas map[string][]image.Extent // by the change id asked about
	asked []string
}

func installFakeCBT(c *Client, capacity int64) *fakeCBT {
	f := &fakeCBT{next: c.vim.RoundTripper, capacity: capacity, page: capacity/3 + 4096, areas: map[string][]image.Extent{}}
	c.vim.RoundTripper = f
	return f
}

func (f *fakeCBT) set(id string, ext []image.Extent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.areas[id] = ext
}

func (f *fakeCBT) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	q, ok := req.(*methods.QueryChangedDiskAreasBody)
	if !ok {
		return f.next.RoundTrip(ctx, req, res)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id := q.Req.ChangeId
	f.asked = append(f.asked, id)
	ext, ok := f.areas[id]
	if !ok {
		return errors.New("ServerFaultCode: A specified parameter was not correct: changeId")
	}
	start := q.Req.StartOffset
	info := types.DiskChangeInfo{StartOffset: start, Length: min(f.page, f.capacity-start)}
	for _, e := range ext {
		lo, hi := max(e.Off, start), min(e.Off+e.Len, start+info.Length)
		if lo < hi {
			info.ChangedArea = append(info.ChangedArea, types.DiskChangeExtent{Start: lo, Length: hi - lo})
		}
	}
	res.(*methods.QueryChangedDiskAreasBody).Res = &types.QueryChangedDiskAreasResponse{Returnval: info}
	return nil
}

func (f *fakeCBT) takeAsked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.asked
	f.asked = nil
	return a
}

// nonZeroBlocks is what ESXi reports for changeId "*": the allocated
// areas, here every 64 KiB block that is not all zeros.
func nonZeroBlocks(b []byte) []image.Extent {
	const bs = 64 << 10
	var out []image.Extent
	for off := 0; off < len(b); off += bs {
		end := min(off+bs, len(b))
		if !catalog.IsZero(b[off:end]) {
			out = append(out, image.Extent{Off: int64(off), Len: int64(end - off)})
		}
	}
	return out
}

// planBytes is what a full read fetches of allocated areas alloc: the
// whole blocks they touch (ingest.ReadPlan).
func planBytes(t *testing.T, repo *catalog.Repo, alloc []image.Extent, size int64) int64 {
	t.Helper()
	plan, _, err := ingest.ReadPlan(repo, alloc, size)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range plan {
		n += e.Len
	}
	return n
}

func TestCBTIncremental(t *testing.T) {
	img := filepath.Join(t.TempDir(), "web01.raw")
	demoDisk(t, img, 1)
	s := newSim(t, img, false)
	c := s.connect(t)
	fake := installFakeCBT(c, s.size)
	repo := catalog.TestRepo(t)
	var log logRecorder
	opts := Options{CBT: true, Log: log.logf, Clock: clock(), Walk: testWalk}
	ctx := context.Background()
	var walked int64 // bytes the last run's file boundaries walk read
	backup := func(wantAsked ...string) *catalog.Manifest {
		t.Helper()
		s.served.Store(0)
		r := c.Backup(ctx, repo, findWeb01(t, c), opts)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		walked = r.Walk.Bytes
		if got := readBack(t, repo, r.Manifest, "scsi0-0"); !slices.Equal(got, mustRead(t, s.flat)) {
			t.Fatalf("point %s differs from the image", r.Manifest.Name())
		}
		if asked := fake.takeAsked(); !slices.Equal(uniq(asked), wantAsked) {
			t.Fatalf("QueryChangedDiskAreas asked %q, want %q", uniq(asked), wantAsked)
		}
		if snaps := s.snapshots(t, c); len(snaps) != 0 {
			t.Fatalf("snapshots left: %v", snaps)
		}
		return r.Manifest
	}

	// First run: tracking gets enabled; the disk reports change id 1 and
	// "*" gives the allocated areas, which are all that is read.
	s.setChangeID("52 aa 01/1")
	v1 := mustRead(t, s.flat)
	alloc := nonZeroBlocks(v1)
	fake.set("*", alloc)
	m1 := backup("*")
	if d, _ := m1.Disk("scsi0-0"); d.ChangeID != "52 aa 01/1" {
		t.Fatalf("change id kept: %q", d.ChangeID)
	}
	if want := planBytes(t, repo, alloc, s.size); walked == 0 || s.served.Load() != want+walked {
		t.Fatalf("first run: %d bytes over HTTP, want the %d of blocks touching allocated areas and the %d of the boundaries walk", s.served.Load(), want, walked)
	}
	if !strings.Contains(log.all(), "enabled changed block tracking") {
		t.Errorf("enabling CBT not logged: %s", log.all())
	}

	// Second run: three writes; only their chunks cross the wire.
	changed := []image.Extent{{Off: 1<<20 + 4096, Len: 10000}, {Off: s.size / 2, Len: 65536}, {Off: s.size - 512, Len: 512}}
	for _, e := range changed {
		scribble(t, s.flat, e.Off, int(e.Len))
	}
	fake.set("52 aa 01/1", changed)
	s.setChangeID("52 aa 01/2")
	m2 := backup("52 aa 01/1")
	// Only the changed bytes cross the wire; the rest of the chunks cut
	// again around them comes from the previous point.
	var want int64
	for _, e := range changed {
		want += e.Len
	}
	if got := s.served.Load(); got != want || walked != 0 {
		t.Fatalf("incremental: %d bytes over HTTP (%d by a boundaries walk), want %d (the changed areas)", got, walked, want)
	}
	d2, _ := m2.Disk("scsi0-0")
	// Each area costs the old chunks around it, a few at most.
	maxChunk := int64(4 << 20)
	if reread := s.size - d2.Stats.ReusedBytes; d2.ChangeID != "52 aa 01/2" || reread <= 0 || reread > int64(len(changed))*3*maxChunk {
		t.Fatalf("incremental record: change id %q, reused %d of %d", d2.ChangeID, d2.Stats.ReusedBytes, s.size)
	}

	// Tracking reset (new epoch): a full read of the allocated areas.
	scribble(t, s.flat, 3<<20, 4096)
	s.setChangeID("52 bb 02/1")
	fake.set("*", nonZeroBlocks(mustRead(t, s.flat)))
	backup("*")
	if !strings.Contains(log.all(), "reset") {
		t.Errorf("reset not logged: %s", log.all())
	}

	// A change id the host rejects: fall back to a full read.
	scribble(t, s.flat, 5<<20, 4096)
	s.setChangeID("52 bb 02/2")
	fake.set("*", nonZeroBlocks(mustRead(t, s.flat)))
	backup("52 bb 02/1", "*")
	if !strings.Contains(log.all(), "rejected") {
		t.Errorf("rejected change id not logged: %s", log.all())
	}
	checkNoSecret(t, repo, log.all())
}

func uniq(s []string) []string {
	var out []string
	for _, x := range s {
		if len(out) == 0 || out[len(out)-1] != x {
			out = append(out, x)
		}
	}
	return out
}

func TestPlanRead(t *testing.T) {
	cur := DiskInfo{Capacity: 1 << 30, ChangeID: "52 aa/7"}
	areas := []image.Extent{{Off: 0, Len: 4096}}
	query := func(id string) ([]image.Extent, error) {
		if id == "*" || id == "52 aa/6" {
			return areas, nil
		}
		return nil, errors.New("rejected")
	}
	for _, tc := range []struct {
		name     string
		cbt      bool
		cur      DiskInfo
		prev     prevDisk
		changed  bool
		alloc    bool
		notePart string
		changeID string
	}{
		{"off", false, cur, prevDisk{true, 1 << 30, "52 aa/6"}, false, false, "", ""},
		{"not active", true, DiskInfo{Capacity: 1 << 30}, prevDisk{}, false, false, "not active", ""},
		{"first", true, cur, prevDisk{}, false, true, "no earlier point", "52 aa/7"},
		{"incremental", true, cur, prevDisk{true, 1 << 30, "52 aa/6"}, true, false, "", "52 aa/7"},
		{"resized", true, cur, prevDisk{true, 1 << 29, "52 aa/6"}, false, true, "resized", "52 aa/7"},
		{"reset", true, cur, prevDisk{true, 1 << 30, "52 bb/3"}, false, true, "reset", "52 aa/7"},
		{"rejected", true, cur, prevDisk{true, 1 << 30, "52 aa/5"}, false, true, "rejected", "52 aa/7"},
		{"no id before", true, cur, prevDisk{true, 1 << 30, ""}, false, true, "no change id", "52 aa/7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planRead(tc.cbt, tc.cur, tc.prev, query)
			if (p.changed != nil) != tc.changed || (p.alloc != nil) != tc.alloc || p.changeID != tc.changeID || !strings.Contains(p.note, tc.notePart) {
				t.Fatalf("plan %+v", p)
			}
		})
	}
}

// TestEmulatedCBT runs the CBT path against the simulator's own
// QueryChangedDiskAreas (vcsim's emulation), not an intercepted call:
// change ids come from the snapshots' configurations and the changed
// areas from the SOAP method.
func TestEmulatedCBT(t *testing.T) {
	img := filepath.Join(t.TempDir(), "web01.raw")
	demoDisk(t, img, 1)
	s := newSimOpts(t, img, vcsim.Options{CBT: true})
	c := s.connect(t)
	repo := catalog.TestRepo(t)
	var log logRecorder
	opts := Options{CBT: true, Log: log.logf, Clock: clock(), Walk: testWalk}
	ctx := context.Background()
	var walked int64 // bytes the last run's file boundaries walk read
	backup := func() *catalog.DiskRecord {
		t.Helper()
		s.served.Store(0)
		r := c.Backup(ctx, repo, findWeb01(t, c), opts)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		walked = r.Walk.Bytes
		if got := readBack(t, repo, r.Manifest, "scsi0-0"); !slices.Equal(got, mustRead(t, s.flat)) {
			t.Fatalf("point %s differs from the image", r.Manifest.Name())
		}
		if snaps := s.snapshots(t, c); len(snaps) != 0 {
			t.Fatalf("snapshots left: %v", snaps)
		}
		d, err := r.Manifest.Disk("scsi0-0")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	// First run: tracking is enabled and starts at the backup snapshot;
	// "*" gives the blocks that are not zeros, and only their chunks are
	// read.
	d1 := backup()
	firstLog := log.all()
	if want := planBytes(t, repo, nonZeroBlocks(mustRead(t, s.flat)), s.size); walked == 0 || s.served.Load() != want+walked {
		t.Fatalf("first run: %d bytes over HTTP, want the %d of non-zero 64 KiB blocks and the %d of the boundaries walk", s.served.Load(), want, walked)
	}
	epoch, seq, ok := strings.Cut(d1.ChangeID, "/")
	if !ok || !strings.HasPrefix(epoch, "52 ") || seq != "1" {
		t.Fatalf("first change id %q, want \"52 .../1\"", d1.ChangeID)
	}

	// Second run: the 64 KiB blocks holding the writes are all that
	// crosses the wire.
	writes := []image.Extent{{Off: 1<<20 + 4096, Len: 10000}, {Off: s.size / 2, Len: 65536}, {Off: s.size - 512, Len: 512}, {Off: 7 << 20, Len: 200 << 10}}
	for _, e := range writes {
		scribble(t, s.flat, e.Off, int(e.Len))
	}
	const bs = 64 << 10
	blocks := map[int64]bool{}
	for _, e := range writes {
		for b := e.Off / bs; b <= (e.Off+e.Len-1)/bs; b++ {
			blocks[b] = true
		}
	}
	want := int64(len(blocks)) * bs
	d2 := backup()
	if got := s.served.Load(); got != want || walked != 0 {
		t.Fatalf("incremental: %d bytes over HTTP (%d by a boundaries walk), want %d (the %d changed 64 KiB blocks)", got, walked, want, len(blocks))
	}
	if d2.ChangeID != epoch+"/2" {
		t.Fatalf("second change id %q, want %q", d2.ChangeID, epoch+"/2")
	}
	if d2.Stats.ReadBytes != want {
		t.Errorf("point records %d bytes read, want %d", d2.Stats.ReadBytes, want)
	}

	// Nothing changed: nothing is read.
	backup()
	if got := s.served.Load(); got != 0 {
		t.Fatalf("unchanged disk: %d bytes over HTTP", got)
	}
	if later := strings.TrimPrefix(log.all(), firstLog); strings.Contains(later, "full read") {
		t.Errorf("a full read where CBT should have answered: %s", later)
	}

	// Tracking turned off and on again (a new epoch): the old change id
	// means nothing any more, so the next run reads the allocated areas.
	off := false
	task, err := objectVM(c, findWeb01(t, c)).Reconfigure(ctx, types.VirtualMachineConfigSpec{ChangeTrackingEnabled: &off})
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	d4 := backup()
	if e, _, _ := strings.Cut(d4.ChangeID, "/"); e == epoch || !strings.HasSuffix(d4.ChangeID, "/1") {
		t.Fatalf("change id after re-enabling tracking: %q (old epoch %q)", d4.ChangeID, epoch)
	}
	if !strings.Contains(log.all(), "reset") {
		t.Errorf("reset not logged: %s", log.all())
	}
	if want := planBytes(t, repo, nonZeroBlocks(mustRead(t, s.flat)), s.size); walked == 0 || s.served.Load() != want+walked {
		t.Fatalf("after a reset: %d bytes over HTTP, want %d and the %d of the boundaries walk", s.served.Load(), want, walked)
	}
	checkNoSecret(t, repo, log.all())
}
