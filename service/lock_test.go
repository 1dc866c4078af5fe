package service

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// TestRetentionLocks: a job's retention lock-days locks each new point,
// and keep-last then keeps the older point while it is locked (no error,
// nothing forgotten); lock: true locks a kept point until the policy
// could forget it (keep-daily 3: the third day after its own, in the
// job's zone).
func TestRetentionLocks(t *testing.T) {
	repo := catalog.TestRepo(t)
	dirs := map[string]string{}
	for _, vm := range []string{"va", "vb"} {
		dirs[vm] = t.TempDir()
		img := make([]byte, 256<<10)
		rand.Read(img)
		if err := os.WriteFile(filepath.Join(dirs[vm], vm+".raw"), img, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := startService(t, repo, fmt.Sprintf(`repo: %%s
jobs:
  - {name: days, images: {dir: %s}, schedule: "@yearly", retention: {keep-last: 1, lock-days: 2}}
  - {name: pol, images: {dir: %s}, schedule: "@yearly", time-zone: UTC, retention: {keep-daily: 3, lock: true}}
`, dirs["va"], dirs["vb"]), Options{})
	runJob := func(job string, n int) *Run {
		t.Helper()
		if _, err := s.Start(job); err != nil {
			t.Fatal(err)
		}
		var runs []*Run
		waitFor(t, job+" to run", 30*time.Second, func() bool {
			runs, _ = s.Runs(job) // oldest first, recorded when done
			return len(runs) == n
		})
		return runs[n-1]
	}
	ctx := context.Background()
	start := time.Now()
	runJob("days", 1)
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second))) // points are named by the second
	if r := runJob("days", 2); r.Error != "" || r.Forgotten != 0 {
		t.Fatalf("second run: error %q, %d forgotten; want the locked point kept", r.Error, r.Forgotten)
	}
	times, err := repo.PointTimes("va")
	if err != nil || len(times) != 2 {
		t.Fatalf("points of va: %v, %v; want 2 (the older one locked)", times, err)
	}
	ids := []catalog.PointID{catalog.NewPointID("va", times[0]), catalog.NewPointID("va", times[1])}
	dates, err := repo.LockDates(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range dates {
		if d.Before(start.Add(48*time.Hour - time.Second)) {
			t.Fatalf("%s locked until %v, want 2 days ahead", ids[i], d)
		}
	}

	if r := runJob("pol", 1); r.Error != "" {
		t.Fatalf("pol: %s", r.Error)
	}
	times, err = repo.PointTimes("vb")
	if err != nil || len(times) != 1 {
		t.Fatalf("points of vb: %v, %v", times, err)
	}
	p := times[0].UTC()
	want := time.Date(p.Year(), p.Month(), p.Day()+3, 0, 0, 0, 0, time.UTC)
	dates, err = repo.LockDates(ctx, []catalog.PointID{catalog.NewPointID("vb", p)})
	if err != nil || !dates[0].Equal(want) {
		t.Fatalf("vb locked until %v, %v; want %v", dates, err, want)
	}
}
