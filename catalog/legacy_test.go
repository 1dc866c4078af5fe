package catalog

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestPre1970PointFromOlderBuild opens a repository an older build wrote
// with a point from 1969, whose catalog key sorts after every later point:
// listings are still oldest first, and latest is the 2026 point.
func TestPre1970PointFromOlderBuild(t *testing.T) {
	dir := t.TempDir()
	untar(t, filepath.Join("testdata", "pre1970-repo.tar.gz"), dir)
	r, err := Open(context.Background(), filepath.Join(dir, "repo"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	old := time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC)
	recent := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	times, err := r.PointTimes("legacy")
	if err != nil || len(times) != 2 || !times[0].Equal(old) || !times[1].Equal(recent) {
		t.Fatalf("PointTimes = %v, %v; want [%v %v]", times, err, old, recent)
	}
	pts, err := r.Points("")
	if err != nil || len(pts) != 2 || !pts[0].Time.Equal(old) || !pts[1].Time.Equal(recent) {
		t.Fatalf("Points: %v", err)
	}
	m, err := r.Point("legacy", Latest)
	if err != nil || !m.Time.Equal(recent) {
		t.Fatalf("latest = %v, %v; want %v", m, err, recent)
	}
	for _, p := range pts {
		d, err := r.OpenDisk(context.Background(), p, "disk0")
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 10)
		if _, err := d.ReadAt(b, 0); err != nil {
			t.Fatal(err)
		}
		want := "new sector"
		if p.Time.Equal(old) {
			want = "old sector"
		}
		if string(b) != want {
			t.Errorf("point %s reads %q, want %q", p.Name(), b, want)
		}
	}
}
