package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/control"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// pwFile writes password to a new owner-only file.
func pwFile(t *testing.T, password string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(p, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runEnv runs vmarchive with env (VMARCHIVE_PASSWORD_FILE=...) and fails
// the test on a non-zero exit.
func runEnv(t *testing.T, repo string, env []string, args ...string) string {
	t.Helper()
	r := run(t, repo, env, args...)
	if r.code != 0 {
		t.Fatalf("vmarchive %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// wantFail runs vmarchive and checks it exits 2 with want in its message.
func wantFail(t *testing.T, repo string, env []string, want string, args ...string) result {
	t.Helper()
	r := run(t, repo, env, args...)
	if r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Fatalf("vmarchive %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(args, " "), r.code, r.stderr, want)
	}
	return r
}

// TestEncryptedRepositoryCLI: init --encrypt with --password-file, then
// ingest, points, cat and a mount with VMARCHIVE_PASSWORD_FILE; a wrong
// password, none at all, and --password-command.
func TestEncryptedRepositoryCLI(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	good := pwFile(t, "correct horse battery staple")
	env := []string{"VMARCHIVE_PASSWORD_FILE=" + good}

	wantFail(t, repo, nil, "add --encrypt", "init", "--password-file", good)
	if out := runEnv(t, repo, nil, "init", "--encrypt", "--chunk-size", "256KiB", "--password-file", good); !strings.Contains(out, "created encrypted repository") {
		t.Fatalf("init: %s", out)
	}
	disk := randomDisk(t, 3<<20)
	runEnv(t, repo, env, "ingest", "--vm", "web01", "disk0="+disk)
	if out := runEnv(t, repo, env, "points"); !strings.Contains(out, "web01") {
		t.Fatalf("points: %s", out)
	}
	out := filepath.Join(t.TempDir(), "out.raw")
	runEnv(t, repo, env, "cat", "--vm", "web01", "--disk", "disk0", "-o", out)
	if !bytes.Equal(readFile(t, out), readFile(t, disk)) {
		t.Fatal("cat of the encrypted repository differs from the image")
	}

	// --password-file wins over the environment; a wrong one is exit 2
	// naming where it came from.
	bad := pwFile(t, "wrong")
	wantFail(t, repo, env, `wrong password: the password from --password-file "`+bad+`" opens none`, "points", "--password-file", bad)
	wantFail(t, repo, []string{"VMARCHIVE_PASSWORD_FILE=" + bad}, "VMARCHIVE_PASSWORD_FILE=", "points")
	wantFail(t, repo, nil, "no password given and no terminal", "points")
	wantFail(t, repo, nil, "no such file", "points", "--password-file", "/nonexistent/pw")

	// --password-command: the first line of its output; a failure names the
	// command, never its output.
	runEnv(t, repo, nil, "points", "--password-command", "cat "+good)
	r := wantFail(t, repo, nil, `--password-command "cat `+good+`; exit 3" failed (exit status 3)`, "points", "--password-command", "cat "+good+"; exit 3")
	if strings.Contains(r.stderr, "horse") {
		t.Fatalf("the failing command's output is shown: %s", r.stderr)
	}

	// A mount opens with the password; commands forwarded to it need none.
	testenv.NeedFUSE(t)
	mnt, _, _ := startMountEnv(t, repo, env)
	got, err := os.ReadFile(filepath.Join(mnt, "web01", "latest", "disk0.img"))
	if err != nil || !bytes.Equal(got, readFile(t, disk)) {
		t.Fatalf("disk0.img through the mount: %v", err)
	}
	if out := runEnv(t, repo, nil, "points"); !strings.Contains(out, "web01") {
		t.Fatalf("points through the mount without a password: %s", out)
	}
}

// TestKeyCommands: key add, list, remove and passwd end to end; the last
// key cannot go, and the old password no longer opens after passwd.
func TestKeyCommands(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	first, second, third := pwFile(t, "first-pw"), pwFile(t, "second-pw"), pwFile(t, "third-pw")
	runEnv(t, repo, nil, "init", "--encrypt", "--chunk-size", "256KiB", "--password-file", first)
	withPw := func(f string) []string { return []string{"VMARCHIVE_PASSWORD_FILE=" + f} }

	keys := func(pw string) []struct {
		ID      string
		Current bool
	} {
		t.Helper()
		var ks []struct {
			ID      string
			Current bool
		}
		if err := json.Unmarshal([]byte(runEnv(t, repo, withPw(pw), "key", "list", "--json")), &ks); err != nil {
			t.Fatal(err)
		}
		return ks
	}
	ks := keys(first)
	if len(ks) != 1 || !ks[0].Current {
		t.Fatalf("after init: %+v", ks)
	}
	firstID := ks[0].ID
	wantFail(t, repo, withPw(first), "only key", "key", "remove", firstID)
	wantFail(t, repo, nil, "no new password given and no terminal", "key", "add", "--password-file", first)

	if out := runEnv(t, repo, withPw(first), "key", "add", "--new-password-file", second); !strings.Contains(out, "added key") {
		t.Fatalf("key add: %s", out)
	}
	if ks = keys(second); len(ks) != 2 {
		t.Fatalf("after add: %+v", ks)
	}
	runEnv(t, repo, withPw(second), "key", "remove", firstID)
	wantFail(t, repo, withPw(first), "wrong password", "points")

	runEnv(t, repo, withPw(second), "key", "passwd", "--new-password-file", third)
	wantFail(t, repo, withPw(second), "wrong password", "points")

	plain := newRepo(t)
	wantFail(t, plain, nil, "is not encrypted: it has no keys", "key", "list")

	// Through a process holding the repository (opened with the new
	// password): list and add need no password; passwd is refused before
	// any password is read.
	holdRepoPassword(t, repo, "third-pw")
	if out := runEnv(t, repo, nil, "key", "add", "--new-password-file", first); !strings.Contains(out, "added key") {
		t.Fatalf("key add through the holder: %s", out)
	}
	if out := runEnv(t, repo, nil, "key", "list"); strings.Count(out, "argon2id") != 2 || strings.Count(out, "*") != 1 || strings.Contains(out, firstID) {
		t.Fatalf("key list through the holder: %s", out)
	}
	wantFail(t, repo, nil, "key passwd: repository held by another process", "key", "passwd", "--new-password-file", second)
}

// TestPasswordPrompt types passwords into a real pseudo-terminal: init
// asks twice and refuses a mismatch; nothing typed is echoed.
func TestPasswordPrompt(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	out := ptyRun(t, repo, []string{"pw-one", "pw-two"}, "init", "--encrypt")
	if out.code != 2 || !strings.Contains(out.screen, "the two passwords typed differ") {
		t.Fatalf("mismatch: exit %d\n%s", out.code, out.screen)
	}
	if _, err := os.Stat(filepath.Join(repo, "store")); err == nil {
		t.Fatal("a mismatch still made a repository")
	}
	out = ptyRun(t, repo, []string{"typed-pw-7", "typed-pw-7"}, "init", "--encrypt", "--chunk-size", "256KiB")
	if out.code != 0 || strings.Count(out.screen, "Enter password for the new repository") != 2 {
		t.Fatalf("init: exit %d\n%s", out.code, out.screen)
	}
	out = ptyRun(t, repo, []string{"typed-pw-7"}, "points")
	if out.code != 0 || strings.Count(out.screen, "Enter password: ") != 1 {
		t.Fatalf("points: exit %d\n%s", out.code, out.screen)
	}
	out = ptyRun(t, repo, []string{"typed-pw-8"}, "points")
	if out.code != 2 || !strings.Contains(out.screen, "wrong password: the password from the terminal") {
		t.Fatalf("wrong password: exit %d\n%s", out.code, out.screen)
	}
	// key add asks the current password once, then the new one twice.
	out = ptyRun(t, repo, []string{"typed-pw-7", "typed-pw-9", "typed-pw-9"}, "key", "add")
	if out.code != 0 || !strings.Contains(out.screen, "added key") {
		t.Fatalf("key add: exit %d\n%s", out.code, out.screen)
	}
	if out = ptyRun(t, repo, []string{"typed-pw-9"}, "points"); out.code != 0 {
		t.Fatalf("the added password: exit %d\n%s", out.code, out.screen)
	}
}

type ptyResult struct {
	screen string // everything the terminal showed
	code   int
}

// ptyRun runs vmarchive on a new pseudo-terminal and types each answer
// after the next prompt appears.
func ptyRun(t *testing.T, repo string, answers []string, args ...string) ptyResult {
	t.Helper()
	cmd := exec.Command(vmarchiveBin(t), args...)
	cmd.Env = append(os.Environ(), "VMARCHIVE_REPO="+repo, "HOME="+t.TempDir())
	ptm, err := pty.Start(cmd)
	if err != nil {
		testenv.Missing(t, "no pseudo-terminal: "+err.Error())
	}
	defer ptm.Close()
	var screen lockedBuffer
	copied := make(chan struct{})
	go func() { io.Copy(&screen, ptm); close(copied) }()
	for i, a := range answers {
		waitFor(t, &screen, "Enter", i+1)
		ptm.Write([]byte(a + "\n"))
	}
	cmd.Wait()
	<-copied // EIO once the child has gone
	s := screen.String()
	for _, a := range answers {
		if strings.Contains(s, a) {
			t.Errorf("the terminal echoed %q:\n%s", a, s)
		}
	}
	return ptyResult{s, cmd.ProcessState.ExitCode()}
}

// waitFor waits until s holds n prompts containing word.
func waitFor(t *testing.T, b *lockedBuffer, word string, n int) {
	t.Helper()
	for i := 0; strings.Count(b.String(), word) < n; i++ {
		if i > 3000 {
			t.Fatalf("no prompt %d:\n%s", n, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// holdRepoPassword opens the encrypted repo in this process and serves its
// control socket, as a mount does, until the test ends.
func holdRepoPassword(t *testing.T, repo, password string) *catalog.Repo {
	t.Helper()
	pw := func() ([]byte, error) { return []byte(password), nil }
	r, err := catalog.Open(context.Background(), repo, catalog.Options{Command: "test holder", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := control.Listen(catalog.ControlPath(repo), serveHeld(r), log.New(io.Discard, "", 0))
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Close()
		r.Close()
	})
	return r
}
