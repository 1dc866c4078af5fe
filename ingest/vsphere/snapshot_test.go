package vsphere

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmarchive/vmarchive/catalog"
)

// TestSnapshotArguments checks the CreateSnapshot_Task calls on the wire:
// no memory, quiesce only on request, a name made of SnapshotPrefix and
// the capture time.
func TestSnapshotArguments(t *testing.T) {
	img := filepath.Join(t.TempDir(), "web01.raw")
	randomDisk(t, img, 4<<20)
	s := newSim(t, img, false)
	c := s.connect(t)
	var mu sync.Mutex
	var calls []types.CreateSnapshot_Task
	installSpy(c, func(ctx context.Context, req, res soap.HasFault, next soap.RoundTripper) error {
		if b, ok := req.(*methods.CreateSnapshot_TaskBody); ok {
			mu.Lock()
			calls = append(calls, *b.Req)
			mu.Unlock()
		}
		return next.RoundTrip(ctx, req, res)
	})
	repo := catalog.TestRepo(t)
	tick := clock()
	for _, quiesce := range []bool{false, true} {
		r := c.Backup(context.Background(), repo, findWeb01(t, c), Options{Quiesce: quiesce, Clock: tick})
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		mu.Lock()
		if len(calls) != 1 {
			t.Fatalf("quiesce %v: %d CreateSnapshot_Task calls, want 1", quiesce, len(calls))
		}
		got := calls[0]
		calls = nil
		mu.Unlock()
		want := SnapshotPrefix + r.Manifest.Time.Format("20060102T150405Z")
		if got.Memory || got.Quiesce != quiesce || got.Name != want || got.Description == "" {
			t.Errorf("quiesce %v: CreateSnapshot_Task(name %q, memory %v, quiesce %v, description %q), want name %q, memory false",
				quiesce, got.Name, got.Memory, got.Quiesce, got.Description, want)
		}
		if snaps := s.snapshots(t, c); len(snaps) != 0 {
			t.Fatalf("snapshots left: %v", snaps)
		}
	}
}

// TestInterruptDuringSnapshotCreate cancels the run just after the server
// accepted CreateSnapshot_Task: the snapshot the task makes must still be
// waited for and removed.
func TestInterruptDuringSnapshotCreate(t *testing.T) {
	img := filepath.Join(t.TempDir(), "web01.raw")
	randomDisk(t, img, 4<<20)
	s := newSim(t, img, false)
	c := s.connect(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var created atomic.Bool
	installSpy(c, func(ctx context.Context, req, res soap.HasFault, next soap.RoundTripper) error {
		err := next.RoundTrip(ctx, req, res)
		if _, ok := req.(*methods.CreateSnapshot_TaskBody); ok && err == nil {
			created.Store(true)
			cancel() // Ctrl-C while the task runs
		}
		return err
	})
	repo := catalog.TestRepo(t)
	r := c.Backup(ctx, repo, findWeb01(t, c), Options{Clock: clock()})
	if !created.Load() {
		t.Fatal("CreateSnapshot_Task was not called")
	}
	if !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", r.Err)
	}
	if snaps := s.snapshots(t, c); len(snaps) != 0 {
		t.Fatalf("snapshots left after an interrupt during their creation: %v", snaps)
	}
	if pts, _ := repo.Points(""); len(pts) != 0 {
		t.Fatalf("an interrupted backup made %d points", len(pts))
	}
}
