package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/backend/s3/s3test"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestS3TwoHosts: two hosts (two catalog caches) on one bucket. Each
// command sees the other host's points without a manual step, host b's
// ingest of data host a stored uploads nothing, a point forgotten on b
// goes from a, and a's running mount shows b's new point within --refresh.
func TestS3TwoHosts(t *testing.T) {
	testenv.NeedFUSE(t)
	srv := s3test.Start(t)
	repo := srv.URL(srv.Bucket(t), "two")
	creds := []string{"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey, "AWS_EC2_METADATA_DISABLED=true"}
	hostA := append([]string{"XDG_CACHE_HOME=" + t.TempDir()}, creds...)
	hostB := append([]string{"XDG_CACHE_HOME=" + t.TempDir()}, creds...)
	on := func(env []string, args ...string) string {
		t.Helper()
		r := run(t, repo, env, args...)
		if r.code != 0 {
			t.Fatalf("vmarchive %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
		return r.stdout
	}
	points := func(env []string) []catalog.Manifest {
		t.Helper()
		var pts []catalog.Manifest
		if err := json.Unmarshal([]byte(on(env, "points", "--json")), &pts); err != nil {
			t.Fatal(err)
		}
		return pts
	}
	on(hostA, "init", "--chunk-size", "256KiB")
	disk := randomDisk(t, 2<<20)
	on(hostA, "ingest", "--vm", "web01", "--no-index", "--point-time", "2026-11-20T01:00:00Z", "d0="+disk)
	if pts := points(hostB); len(pts) != 1 || pts[0].VM != "web01" {
		t.Fatalf("host b's points after a's ingest: %+v", pts)
	}
	out := filepath.Join(t.TempDir(), "out.raw")
	on(hostB, "cat", "--vm", "web01", "--point", "latest", "--disk", "d0", "-o", out)
	if !bytes.Equal(readFile(t, out), readFile(t, disk)) {
		t.Fatal("host b: cat of host a's point differs")
	}
	on(hostB, "ingest", "--vm", "db01", "--no-index", "d0="+disk)
	for _, p := range points(hostA) {
		if p.VM == "db01" && p.Disks[0].Stats.NewChunks != 0 {
			t.Fatalf("host b stored %d new chunks of data host a had stored", p.Disks[0].Stats.NewChunks)
		}
	}
	on(hostB, "forget", "--vm", "web01", "--point", "2026-11-20T01:00:00Z")
	if pts := points(hostA); len(pts) != 1 || pts[0].VM != "db01" {
		t.Fatalf("host a's points after b forgot web01's: %+v", pts)
	}

	mnt := t.TempDir()
	cmd := exec.Command(vmarchiveBin(t), "mount", "--refresh", "1s", mnt)
	cmd.Env = append(append(os.Environ(), "VMARCHIVE_REPO="+repo, "HOME="+t.TempDir()), hostA...)
	log := &lockedBuffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	for i := 0; !strings.Contains(log.String(), " mounted at"); i++ {
		if i > 600 {
			t.Fatalf("mount did not come up:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	on(hostB, "ingest", "--vm", "app01", "--no-index", "d0="+disk)
	img := filepath.Join(mnt, "app01", "latest", "d0.img")
	for i := 0; ; i++ {
		if _, err := os.Stat(img); err == nil {
			break
		}
		if i > 300 {
			t.Fatalf("host b's new point is not in host a's mount after 30s:\n%s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !bytes.Equal(readFile(t, img), readFile(t, disk)) {
		t.Fatal("host a's mount: host b's point differs")
	}
}

// TestS3DeadIngestLock: an ingest on host a killed (kill -9) after
// storing and checkpointing its chunks leaves its lock object; gc on host
// b waits for it one lease only, removes it, and deletes the dead ingest's
// chunks. Host a's catalog still lists them, so its re-run must store
// them again: the point then reads back byte-exact.
func TestS3DeadIngestLock(t *testing.T) {
	srv := s3test.Start(t)
	repo := srv.URL(srv.Bucket(t), "dead")
	creds := []string{"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey,
		"AWS_EC2_METADATA_DISABLED=true", "VMARCHIVE_LOCK_LEASE=2s"}
	hostA := append([]string{"XDG_CACHE_HOME=" + t.TempDir()}, creds...)
	hostB := append([]string{"XDG_CACHE_HOME=" + t.TempDir()}, creds...)
	on := func(env []string, args ...string) result {
		t.Helper()
		r := run(t, repo, env, args...)
		if r.code != 0 {
			t.Fatalf("vmarchive %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
		return r
	}
	on(hostA, "init", "--chunk-size", "256KiB")
	disk := randomDisk(t, 2<<20)
	args := []string{"ingest", "--vm", "web01", "--no-index", "d0=" + disk}
	r := run(t, repo, append(hostA, "VMARCHIVE_CRASHPOINT=chunks-durable", "VMARCHIVE_CHECKPOINT_BYTES=65536"), args...)
	if r.code != -1 {
		t.Fatalf("ingest was not killed: exit %d\n%s", r.code, r.stderr)
	}
	g := on(hostB, "gc")
	for _, want := range []string{"gc: waiting for an ingest on host", "gc: removed an ingest on host", "unchanged for 2s"} {
		if !strings.Contains(g.stderr, want) {
			t.Errorf("gc's messages do not say %q:\n%s", want, g.stderr)
		}
	}
	if !strings.Contains(g.stdout, "0 objects in use") || strings.Contains(g.stdout, "deleted 0 objects") {
		t.Fatalf("gc did not delete the dead ingest's chunks:\n%s", g.stdout)
	}
	on(hostA, args...)
	out := filepath.Join(t.TempDir(), "out.raw")
	for _, env := range [][]string{hostA, hostB} {
		on(env, "cat", "--vm", "web01", "--point", "latest", "--disk", "d0", "-o", out)
		if !bytes.Equal(readFile(t, out), readFile(t, disk)) {
			t.Fatal("the re-run's point reads back different bytes")
		}
	}
}
