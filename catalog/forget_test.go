package catalog

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog/backend"
)

func TestForgetRemovesManifestAndKey(t *testing.T) {
	r := testRepo1(t)
	ctx := context.Background()
	cs := r.Config().ChunkSize
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	var pts []*Manifest
	for i := 0; i < 3; i++ {
		pts = append(pts, TestWritePoint(t, r, "web01", t0.Add(time.Duration(i)*time.Hour), map[string][]byte{"disk0": testDisk(int64(i), 5, cs)}))
	}
	if err := r.Forget(ctx, "web01", []time.Time{pts[1].Time}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Point("web01", pts[1].Name()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("forgotten point still listed: %v", err)
	}
	if _, err := r.Backend().Get(ctx, pts[1].ObjectName()); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("manifest object still there: %v", err)
	}
	times, err := r.PointTimes("web01")
	if err != nil || len(times) != 2 || !times[0].Equal(pts[0].Time) || !times[1].Equal(pts[2].Time) {
		t.Fatalf("points left: %v %v", times, err)
	}
	if err := r.Forget(ctx, "web01", []time.Time{pts[1].Time}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("forgetting a forgotten point: %v", err)
	}
	res, err := r.Verify(ctx, VerifyOptions{})
	if err != nil || len(res.Problems) != 0 || res.Points != 2 {
		t.Fatalf("verify after forget: %+v %v", res, err)
	}
}
