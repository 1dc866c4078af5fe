package main

import (
	"bytes"
	"crypto/rand"
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

// needSetpriv skips without root and setpriv, but fails under CI=true.
func needSetpriv(t *testing.T) {
	t.Helper()
	testenv.NeedTools(t, "setpriv")
	testenv.NeedRoot(t)
}

// nobody runs name as uid and gid 65534 with no groups.
func nobody(name string, args ...string) *exec.Cmd {
	return exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", name}, args...)...)
}

// worldBin is a copy of the vmarchive binary that every user may run.
func worldBin(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "vmarchive-world")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "vmarchive")
	if err := os.WriteFile(bin, readFile(t, vmarchiveBin(t)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// startMount runs "vmarchive mount" under umask 000 until the test ends
// and waits until it serves.
func startMount(t *testing.T, repo string, args ...string) (mnt string, log *lockedBuffer) {
	t.Helper()
	mnt, log, _ = startMountEnv(t, repo, nil, args...)
	return mnt, log
}

// startMountEnv is startMount with more environment; it also returns the
// mount's process id.
func startMountEnv(t *testing.T, repo string, env []string, args ...string) (mnt string, log *lockedBuffer, pid int) {
	t.Helper()
	mnt = t.TempDir()
	script := `umask 000; exec "$@"`
	cmd := exec.Command("sh", append([]string{"-c", script, "sh", vmarchiveBin(t), "mount"}, append(args, mnt)...)...)
	cmd.Env = append(append(os.Environ(), "VMARCHIVE_REPO="+repo), env...)
	log = &lockedBuffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	for i := 0; ; i++ {
		if _, err := os.Stat(catalog.ControlPath(repo)); err == nil && strings.Contains(log.String(), "mounted") {
			return mnt, log, cmd.Process.Pid
		}
		if i > 600 { // 30 s: a busy machine
			t.Fatalf("mount did not come up:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockedBuffer is a bytes.Buffer written by a process's output copier
// while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestHolderSocketOwnerOnly: a real mount started under umask 000, in a
// repository whose directories others may enter (as older versions left
// them), serves its owner's commands, while uid 65534 reaches neither the
// socket nor the repository's points.
func TestHolderSocketOwnerOnly(t *testing.T) {
	testenv.NeedFUSE(t)
	needSetpriv(t)
	testenv.NeedTools(t, "stat")
	repo := newRepo(t)
	disk := filepath.Join(t.TempDir(), "d.raw")
	b := make([]byte, 1<<20)
	rand.Read(b)
	if err := os.WriteFile(disk, b, 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", "2026-11-20T01:00:00Z", "disk0="+disk)
	for _, d := range []string{filepath.Dir(repo), repo} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	startMount(t, repo)
	sockDir := filepath.Dir(catalog.ControlPath(repo))
	if fi, err := os.Lstat(sockDir); err != nil || fi.Mode() != os.ModeDir|0o700 {
		t.Fatalf("socket directory %s: %v, mode %v; want drwx------", sockDir, err, fi.Mode())
	}

	out, err := nobody("stat", catalog.ControlPath(repo)).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Permission denied") {
		t.Fatalf("uid 65534 reaches the socket: %v\n%s", err, out)
	}
	c := nobody(worldBin(t), "points")
	c.Env = append(os.Environ(), "VMARCHIVE_REPO="+repo, "HOME=/nonexistent")
	out, err = c.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "vmarchive:") || strings.Contains(string(out), "web01") {
		t.Fatalf("uid 65534 listed points (or vmarchive did not run): %v\n%s", err, out)
	}

	if out := mustRun(t, repo, "points"); !strings.Contains(out, "web01") {
		t.Fatalf("owner's points through the mount: %s", out)
	}
}

// TestMountPermFlags: bad permission flags are refused before anything is
// opened or mounted.
func TestMountPermFlags(t *testing.T) {
	repo := newRepo(t)
	mnt := t.TempDir()
	for _, c := range []struct{ flag, want string }{
		{"--fat-umask=999", "--fat-umask \"999\": want octal"},
		{"--ntfs-umask=1777", "--ntfs-umask \"1777\": want octal"},
		{"--image-group=no-such-group-x", "--image-group \"no-such-group-x\""},
		{"--fat-uid=no-such-user-x", "--fat-uid \"no-such-user-x\""},
	} {
		r := run(t, repo, nil, "mount", "--allow-other", c.flag, mnt)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", c.flag, r.code, r.stderr, c.want)
		}
	}
}
