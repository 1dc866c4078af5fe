package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestPasswordNeverShown runs commands with a distinctive password and
// looks for it where it must never be: the argv and environment of our
// process and of every process it starts, stdout, stderr, the mount's log,
// and every file under the repository.
func TestPasswordNeverShown(t *testing.T) {
	testenv.NeedFUSE(t)
	pw, wrong := distinctive(t), distinctive(t)
	file, wrongFile := pwFile(t, pw), pwFile(t, wrong)
	repo := filepath.Join(t.TempDir(), "repo")
	secrets := []string{pw, wrong}
	var shown bytes.Buffer // every output of every command

	// The password command sleeps so that the scan sees it running.
	slowCat := func(f string) string { return "cat " + f + "; sleep 0.3" }
	saw := watchRun(t, repo, nil, &shown, secrets, "init", "--encrypt", "--chunk-size", "256KiB", "--password-command", slowCat(file))
	if !strings.Contains(saw, "sleep 0.3") {
		t.Fatalf("the scan never saw the password command run; it saw:\n%s", saw)
	}
	env := []string{"VMARCHIVE_PASSWORD_FILE=" + file}
	watchRun(t, repo, env, &shown, secrets, "ingest", "--vm", "web01", "disk0="+randomDisk(t, 1<<20))
	watchRun(t, repo, nil, &shown, secrets, "points", "--password-command", slowCat(wrongFile))

	mnt, mountLog, pid := startMountEnv(t, repo, nil, "--password-command", slowCat(file))
	if _, err := os.Stat(filepath.Join(mnt, "web01", "latest", "disk0.img")); err != nil {
		t.Fatal(err)
	}
	scanProcs(t, pid, secrets...)
	watchRun(t, repo, nil, &shown, secrets, "points")
	shown.WriteString(mountLog.String())

	if !strings.Contains(shown.String(), "wrong password") || !strings.Contains(shown.String(), "web01") {
		t.Fatalf("the commands did not run as expected:\n%s", shown.String())
	}
	for _, secret := range secrets {
		if strings.Contains(shown.String(), secret) {
			t.Errorf("a password is in the output:\n%s", shown.String())
		}
	}
	grepTree(t, repo, secrets...)
}

func distinctive(t *testing.T) string {
	b := make([]byte, 12)
	rand.Read(b)
	return "Pw-" + hex.EncodeToString(b)
}

// watchRun runs vmarchive, scanning its process tree for secrets while it
// runs; it appends stdout and stderr to shown and returns the command
// lines it saw.
func watchRun(t *testing.T, repo string, env []string, shown *bytes.Buffer, secrets []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(vmarchiveBin(t), args...)
	cmd.Env = append(append(os.Environ(), "VMARCHIVE_REPO="+repo, "HOME="+t.TempDir()), env...)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	var saw strings.Builder
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-time.After(5 * time.Millisecond):
			saw.WriteString(scanProcs(t, cmd.Process.Pid, secrets...))
		}
	}
	shown.WriteString(out.String())
	return saw.String()
}

// scanProcs checks the argv and environment of pid and its descendants for
// secrets and returns their command lines.
func scanProcs(t *testing.T, pid int, secrets ...string) string {
	t.Helper()
	var saw strings.Builder
	for _, p := range descendants(pid) {
		for _, what := range []string{"cmdline", "environ"} {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/" + what)
			if err != nil {
				continue // gone meanwhile
			}
			for _, s := range secrets {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("a password is in /proc/%d/%s: %q", p, what, b)
				}
			}
			if what == "cmdline" {
				saw.Write(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
				saw.WriteByte('\n')
			}
		}
	}
	return saw.String()
}

// descendants returns pid and every process below it.
func descendants(pid int) []int {
	parent := map[int]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		for p, pp := range parent {
			if pp == out[i] {
				out = append(out, p)
			}
		}
	}
	return out
}

// grepTree fails if any file under dir holds one of secrets.
func grepTree(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("a password is in the clear in %s", p)
			}
		}
		return nil
	})
	if err != nil || n < 5 {
		t.Fatalf("walk %s: %v (%d files)", dir, err, n)
	}
}
