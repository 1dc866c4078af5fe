package catalog

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

func TestDerivedPutGet(t *testing.T) {
	r := testRepo1(t)
	cs := r.Config().ChunkSize
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	TestWritePoint(t, r, "web01", t0, map[string][]byte{"disk0": testDisk(1, 2, cs)})

	if _, ok, err := r.Derived(NewPointID("web01", t0), "files"); ok || err != nil {
		t.Fatalf("derived data before any put: ok=%v err=%v", ok, err)
	}
	val := []byte("index bytes")
	if err := r.PutDerived(NewPointID("web01", t0), "files", val); err != nil {
		t.Fatal(err)
	}
	val[0] = 'X' // the stored value must not alias the caller's buffer
	got, ok, err := r.Derived(NewPointID("web01", t0.Add(300*time.Millisecond)), "files")
	if err != nil || !ok || string(got) != "index bytes" {
		t.Fatalf("derived = %q %v %v", got, ok, err)
	}
	if _, ok, _ := r.Derived(NewPointID("web01", t0), "other"); ok {
		t.Fatal("another name sees the value")
	}
	if err := r.PutDerived(NewPointID("web01", t0.Add(time.Hour)), "files", val); !errors.Is(err, ErrNotFound) {
		t.Fatalf("put for a missing point: %v", err)
	}
	for _, bad := range []string{"", "Files", "a/b", string(bytes.Repeat([]byte{'a'}, MaxDerivedName+1))} {
		if err := r.PutDerived(NewPointID("web01", t0), bad, val); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
}

// Forgetting a point drops its derived data and nobody else's: not the
// neighbouring second, not a VM whose name extends this one's.
func TestForgetDeletesDerived(t *testing.T) {
	r := testRepo1(t)
	cs := r.Config().ChunkSize
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	type pt struct {
		vm string
		t  time.Time
	}
	pts := []pt{{"web01", t0}, {"web01", t0.Add(time.Second)}, {"web01", t0.Add(-time.Second)}, {"web011", t0}, {"web0", t0}}
	for i, p := range pts {
		TestWritePoint(t, r, p.vm, p.t, map[string][]byte{"disk0": testDisk(int64(i), 2, cs)})
		for _, name := range []string{"files", "zz"} {
			if err := r.PutDerived(NewPointID(p.vm, p.t), name, []byte(p.vm+name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := r.Forget(context.Background(), "web01", []time.Time{t0}); err != nil {
		t.Fatal(err)
	}
	for i, p := range pts {
		for _, name := range []string{"files", "zz"} {
			v, ok, err := r.Derived(NewPointID(p.vm, p.t), name)
			if err != nil {
				t.Fatal(err)
			}
			if want := i != 0; ok != want || ok && string(v) != p.vm+name {
				t.Errorf("%s/%s %s after forgetting web01/%s: %q present=%v", p.vm, FormatPointTime(p.t), name, FormatPointTime(t0), v, ok)
			}
		}
	}
	// A point committed again at the forgotten time starts without any.
	TestWritePoint(t, r, "web01", t0, map[string][]byte{"disk0": testDisk(9, 2, cs)})
	if _, ok, _ := r.Derived(NewPointID("web01", t0), "files"); ok {
		t.Fatal("derived data came back with a new point at the same time")
	}
}

func TestRebuildDropsDerived(t *testing.T) {
	r := testRepo1(t)
	ctx := context.Background()
	cs := r.Config().ChunkSize
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	TestWritePoint(t, r, "web01", t0, map[string][]byte{"disk0": testDisk(1, 2, cs)})
	if err := r.PutDerived(NewPointID("web01", t0), "files", []byte("x")); err != nil {
		t.Fatal(err)
	}
	dir := r.Dir()
	r.Close()
	res, err := Rebuild(ctx, dir, Options{Command: "test"})
	if err != nil || res.Points != 1 {
		t.Fatalf("rebuild: %+v %v", res, err)
	}
	r2, err := Open(ctx, dir, Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if _, err := r2.Point("web01", FormatPointTime(t0)); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := r2.Derived(NewPointID("web01", t0), "files"); ok || err != nil {
		t.Fatalf("derived data survived the rebuild: ok=%v err=%v", ok, err)
	}
}
