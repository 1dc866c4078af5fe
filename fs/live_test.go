package fs

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

var (
	cliOnce sync.Once
	cliPath string
	cliErr  error
)

// buildCLI builds the vmarchive binary once per test run.
func buildCLI(t testing.TB) string {
	t.Helper()
	cliOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vmarchive-fs-test")
		if err != nil {
			cliErr = err
			return
		}
		cliPath = filepath.Join(dir, "vmarchive")
		out, err := exec.Command("go", "build", "-o", cliPath, "../cmd/vmarchive").CombinedOutput()
		if err != nil {
			cliErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if cliErr != nil {
		t.Fatal(cliErr)
	}
	return cliPath
}

// cliRepo builds the CLI and returns it, an environment naming a fresh
// repository, and a runner that fails the test on a non-zero exit.
func cliRepo(t *testing.T) (bin string, env []string, run func(args ...string) string) {
	bin = buildCLI(t)
	env = append(os.Environ(), "VMARCHIVE_REPO="+filepath.Join(t.TempDir(), "repo"))
	run = func(args ...string) string {
		t.Helper()
		c := exec.Command(bin, args...)
		c.Env = env
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	return bin, env, run
}

// TestLiveIngestThroughMount runs the real daemon; an ingest from another
// process goes through it and the new point shows up, with latest moved,
// within 2 s and without a remount.
func TestLiveIngestThroughMount(t *testing.T) {
	testenv.NeedFUSE(t)
	_, disk1 := refDisk(t, "1")
	_, disk2 := refDisk(t, "2")
	bin, env, cli := cliRepo(t)
	cli("init")
	cli("ingest", "--vm", "web01", "--point-time", "2026-11-20T01:00:00Z", "disk0="+disk1)
	mnt := t.TempDir()
	d := exec.Command(bin, "mount", mnt)
	d.Env = env
	var logs bytes.Buffer
	d.Stderr = &logs
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Process.Signal(syscall.SIGTERM); d.Wait() })
	host := filepath.Join(mnt, "web01/latest/disk0/p1/etc/hostname")
	waitFor(t, func() bool { _, err := os.Stat(host); return err == nil })
	if got := string(readFile(t, host)); got != "reference host v1\n" {
		t.Fatalf("v1 hostname %q", got)
	}
	out := cli("ingest", "--vm", "web01", "--point-time", "2026-11-21T01:00:00Z", "disk0="+disk2)
	if !strings.Contains(out, "created") {
		t.Fatalf("ingest through the mount: %s", out)
	}
	start := time.Now()
	for {
		target, _ := os.Readlink(filepath.Join(mnt, "web01/latest"))
		b, _ := os.ReadFile(host)
		if target == "2026-11-21T01:00:00Z" && string(b) == "reference host v2\n" {
			break
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("after 2 s latest -> %q, hostname %q\n%s", target, b, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("new point visible after %v", time.Since(start))
	if _, err := os.Stat(filepath.Join(mnt, "web01/2026-11-20T01:00:00Z/disk0/p1/etc/hostname")); err != nil {
		t.Fatal(err)
	}
	// A second VM appears in the root too.
	cli("ingest", "--vm", "db01", "disk0="+disk1)
	waitFor(t, func() bool { _, err := os.Stat(filepath.Join(mnt, "db01/latest/disk0.img")); return err == nil })
}

// TestResticBacksUpAMountedPoint points a real file-level agent at a guest
// tree and checks what it stored by restoring it.
func TestResticBacksUpAMountedPoint(t *testing.T) {
	testenv.NeedTools(t, "restic", "rsync")
	tree, disk := refDisk(t, "1")
	r := catalog.TestRepo(t)
	ingestImage(t, r, "web01", t0, map[string]string{"disk0": disk})
	mnt, _ := mountRepo(t, r, Options{})
	src := filepath.Join(mnt, "web01/latest/disk0/p1")
	rrepo := filepath.Join(t.TempDir(), "restic")
	env := append(os.Environ(), "RESTIC_PASSWORD=test", "RESTIC_REPOSITORY="+rrepo, "RESTIC_CACHE_DIR="+t.TempDir())
	restic := func(args ...string) string {
		c := exec.Command("restic", args...)
		c.Env = env
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("restic %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	restic("init")
	restic("backup", "--exclude", src+"/lost+found", src)
	// A second backup finds nothing changed: stable inodes and times.
	out := restic("backup", "--exclude", src+"/lost+found", src)
	if !strings.Contains(out, "0 new,") || !strings.Contains(out, "0 changed") {
		t.Fatalf("second backup saw changes:\n%s", out)
	}
	restored := t.TempDir()
	restic("restore", "latest", "--target", restored)
	got := filepath.Join(restored, src) + "/"
	diff := sh(t, "rsync", "-n", "-aHXc", "--modify-window=-1", "-i", "--delete", "--exclude=/lost+found", tree+"/", got)
	if strings.TrimSpace(diff) != "" {
		t.Fatalf("restic's copy differs from the reference tree:\n%s", diff)
	}
}

// TestAccess: by default only the mounting user gets in; with AllowOther
// others do, and the guest's own modes are enforced.
func TestAccess(t *testing.T) {
	testenv.NeedTools(t, "setpriv")
	_, disk := refDisk(t, "1")
	r := catalog.TestRepo(t)
	ingestImage(t, r, "web01", t0, map[string]string{"disk0": disk})
	as := func(uid int, cmd ...string) error {
		c := exec.Command("setpriv", append([]string{fmt.Sprintf("--reuid=%d", uid), fmt.Sprintf("--regid=%d", uid), "--clear-groups", "--"}, cmd...)...)
		out, err := c.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	mnt, srv := mountRepo(t, r, Options{})
	os.Chmod(filepath.Dir(mnt), 0o755)
	if err := as(65534, "ls", mnt); err == nil || !strings.Contains(err.Error(), "Permission denied") {
		t.Fatalf("another user listed a private mount: %v", err)
	}
	srv.Unmount()
	mnt, _ = mountRepo(t, r, Options{AllowOther: true})
	os.Chmod(filepath.Dir(mnt), 0o755)
	p1 := filepath.Join(mnt, "web01/latest/disk0/p1")
	if err := as(65534, "cat", filepath.Join(p1, "etc/hostname")); err != nil {
		t.Fatalf("world-readable file with allow-other: %v", err)
	}
	if err := as(65534, "cat", filepath.Join(p1, "etc/shadow")); err == nil {
		t.Fatal("nobody read etc/shadow (0640 root:42)")
	}
	if err := as(1001, "cat", filepath.Join(p1, "home/bob/notes")); err != nil {
		t.Fatalf("bob cannot read his own file: %v", err)
	}
	if err := as(1000, "ls", filepath.Join(p1, "home/bob")); err == nil {
		t.Fatal("ann listed bob's 0700 home")
	}
}
