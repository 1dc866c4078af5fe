package catalog

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestPointIndexFollowsWrites: VMs and PointTimes, answered from the cache
// once read, change as soon as a commit, a bulk commit or a forget lands,
// including for a VM first asked about before it had points.
func TestPointIndexFollowsWrites(t *testing.T) {
	r := TestRepo(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	disk := map[string][]byte{"disk0": []byte("data")}
	want := func(vm string, hours ...int) {
		t.Helper()
		got, err := r.PointTimes(vm)
		if err != nil {
			t.Fatal(err)
		}
		var w []time.Time
		for _, h := range hours {
			w = append(w, at(h))
		}
		if !slices.EqualFunc(got, w, time.Time.Equal) {
			t.Fatalf("points of %s: %v, want %v", vm, got, w)
		}
	}
	wantVMs := func(vms ...string) {
		t.Helper()
		got, err := r.VMs()
		if err != nil || !slices.Equal(got, vms) {
			t.Fatalf("VMs %v (%v), want %v", got, err, vms)
		}
	}
	wantVMs()
	want("web01")
	TestWritePoint(t, r, "web01", at(1), disk)
	want("web01", 1)
	wantVMs("web01")
	TestWritePoint(t, r, "web01", at(0), disk)
	want("web01", 0, 1)
	if err := r.CommitCopies(ctx, NewPointID("web01", at(0)), []PointID{NewPointID("db01", at(2)), NewPointID("web01", at(3))}); err != nil {
		t.Fatal(err)
	}
	want("web01", 0, 1, 3)
	want("db01", 2)
	wantVMs("db01", "web01")
	if err := r.Forget(ctx, "web01", []time.Time{at(1)}); err != nil {
		t.Fatal(err)
	}
	want("web01", 0, 3)
	if err := r.Forget(ctx, "db01", []time.Time{at(2)}); err != nil {
		t.Fatal(err)
	}
	want("db01")
	wantVMs("web01")
	// What the cache answered is the caller's to change.
	vms, _ := r.VMs()
	vms[0] = "changed"
	wantVMs("web01")
}

// TestPointIndexBounds: an answer read before a write is not cached, and
// the cache starts over rather than hold more than maxIndexed times.
func TestPointIndexBounds(t *testing.T) {
	var x pointIndex
	gen := x.now()
	x.changed()
	x.putTimes(gen, "a", []int64{1})
	if _, ok := x.getTimes("a"); ok {
		t.Fatal("an answer read before a write was cached")
	}
	x.putTimes(x.now(), "big", make([]int64, maxIndexed-1))
	x.putTimes(x.now(), "empty", []int64{})
	if _, ok := x.getTimes("big"); !ok {
		t.Fatal("big not cached")
	}
	if _, ok := x.getTimes("empty"); !ok {
		t.Fatal("empty not cached")
	}
	x.putTimes(x.now(), "b", []int64{1, 2})
	if _, ok := x.getTimes("big"); ok {
		t.Fatal("cache grew past maxIndexed")
	}
	if got, ok := x.getTimes("b"); !ok || len(got) != 2 {
		t.Fatalf("b: %v %v", got, ok)
	}
	x.putTimes(x.now(), "huge", make([]int64, maxIndexed+1))
	if _, ok := x.getTimes("huge"); ok {
		t.Fatal("an answer larger than the cache was cached")
	}
}
