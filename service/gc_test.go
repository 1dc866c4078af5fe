package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestGCOnSchedule: gc: runs gc every second beside the service's mount
// and captures. After the job's retention forgot a point, a gc run
// records what it deleted in the run history (job gc), the kept point
// still reads whole through the FUSE mount, and verify finds every
// object of it.
func TestGCOnSchedule(t *testing.T) {
	testenv.NeedFUSE(t)
	repo := catalog.TestRepo(t)
	dir := t.TempDir()
	images, mnt := filepath.Join(dir, "images"), filepath.Join(dir, "mnt")
	os.Mkdir(images, 0o700)
	os.Mkdir(mnt, 0o700)
	disk := filepath.Join(images, "web01.raw")
	cfgPath := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`repo: %s
mount: mnt
gc: {schedule: "@every 1s"}
jobs:
  - {name: kvm, images: {dir: images}, schedule: "@yearly", retention: {keep-last: 1}}
`, repo.Dir())), 0o600)
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var logb lockedBuffer
	s := New(repo, cfg, Options{Log: slog.New(slog.NewTextHandler(&logb, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitFor(t, "the mount and the scheduler", 30*time.Second, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return mounted(t, mnt) && s.mu.base != nil
	})
	var data []byte
	var last *Run
	for i := range 2 { // two points of different data: the second forgets the first
		if last != nil {
			time.Sleep(time.Until(last.VMs[0].End.Truncate(time.Second).Add(time.Second))) // points are named by the second
		}
		data = make([]byte, 2<<20)
		rand.Read(data)
		os.WriteFile(disk, data, 0o600)
		last = runNow(t, s, "kvm")
		if last.Result != ResultOK || (i == 1 && last.Forgotten != 1) {
			t.Fatalf("run %d: %+v\n%s", i, last, logb.String())
		}
	}
	var gc *Run
	waitFor(t, "a gc run that deletes the forgotten point's data", 30*time.Second, func() bool {
		runs, _ := s.Runs(GCJob)
		for _, r := range runs {
			if r.Start.After(last.End) && r.GC != nil && r.GC.DeletedObjects > 0 {
				gc = r
				return true
			}
		}
		return false
	})
	if gc.Result != ResultOK || gc.Trigger != "schedule" || gc.GC.DeletedBytes < 2<<20 {
		t.Fatalf("gc run %+v, figures %+v", gc, gc.GC)
	}
	b, err := os.ReadFile(filepath.Join(mnt, "web01", "latest", "disk0.img"))
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("the kept point through the mount after gc: %d bytes, %v (equal: %v)", len(b), err, bytes.Equal(b, data))
	}
	if res, err := repo.Verify(ctx, catalog.VerifyOptions{}); err != nil || len(res.Problems) > 0 || res.Points != 1 {
		t.Fatalf("verify after gc: %+v, %v", res, err)
	}
}

// runNow starts job and waits for its record.
func runNow(t *testing.T, s *Service, job string) *Run {
	t.Helper()
	r, err := s.Start(job)
	if err != nil {
		t.Fatal(err)
	}
	var got *Run
	waitFor(t, "the run", 30*time.Second, func() bool {
		got, _ = s.run(job, r.Start.Format(time.RFC3339Nano))
		return got != nil && got.Result != ResultRunning
	})
	return got
}
