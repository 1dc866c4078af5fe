package control

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// clientEnv makes the test binary act as a control client of the socket
// it names (run as another user, uid 65534).
const clientEnv = "VMARCHIVE_CONTROL_TEST_CLIENT"

func TestMain(m *testing.M) {
	if path := os.Getenv(clientEnv); path != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var out, errb bytes.Buffer
		code, err := Call(ctx, path, Request{Op: "run-as-holder", Body: []byte("{}")}, &out, &errb)
		fmt.Printf("code=%d err=%v stdout=%q stderr=%q\n", code, err, out.String(), errb.String())
		os.Exit(0)
	}
	if path := os.Getenv(serverEnv); path != "" {
		s, err := Listen(path, func(ctx context.Context, req Request, stdout, stderr io.Writer) int {
			fmt.Fprintf(stdout, "got %s\n", req.Body)
			return 0
		}, nil)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("listening")
		io.Copy(io.Discard, os.Stdin) // until the test closes stdin
		s.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serverEnv makes the test binary serve a socket at the path it names
// until its stdin closes.
const serverEnv = "VMARCHIVE_CONTROL_TEST_SERVER"

// needRoot skips without root (needed to run a child as another user),
// but fails under CI=true.
func needRoot(t *testing.T) {
	t.Helper()
	testenv.NeedRoot(t)
}

// nobodyCmd runs name as uid and gid 65534 with no groups.
func nobodyCmd(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	return cmd
}

// asNobody runs the test binary as a control client of sock with uid and
// gid 65534 and no groups, and returns what it printed.
func asNobody(t *testing.T, client, sock string) string {
	t.Helper()
	cmd := nobodyCmd(client)
	cmd.Env = append(os.Environ(), clientEnv+"="+sock)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("client as uid 65534: %v\n%s", err, out)
	}
	return string(out)
}

// worldDir is a temporary directory every user may enter, holding a copy
// of the test binary that every user may run.
func worldDir(t *testing.T) (dir, client string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "vmarchive-control")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	client = filepath.Join(dir, "client")
	if err := os.WriteFile(client, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, client
}

// TestOtherUserGetsNothing: under umask 000, in a repository directory
// anyone may enter, another user cannot reach the socket (its directory
// is 0700), and if that directory is opened up by hand the holder still
// refuses the connection by its peer uid, logs it, and never runs the
// request. The owner is served throughout.
func TestOtherUserGetsNothing(t *testing.T) {
	needRoot(t)
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	base, client := worldDir(t)
	repo := filepath.Join(base, "repo")
	if err := os.Mkdir(repo, 0o777); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(repo, "control", "ctl.sock")
	var ran atomic.Int32
	var logb syncBuffer
	s, err := Listen(sock, func(ctx context.Context, req Request, stdout, stderr io.Writer) int {
		ran.Add(1)
		fmt.Fprintln(stdout, "served", req.Op)
		return 0
	}, log.New(&logb, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if fi, err := os.Stat(filepath.Dir(sock)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("socket directory: %v, mode %v; want 0700", err, fi.Mode())
	}

	out := asNobody(t, client, sock)
	if !strings.Contains(out, "permission denied") || ran.Load() != 0 {
		t.Fatalf("uid 65534 through the 0700 directory: %s (handler ran %d times)", out, ran.Load())
	}

	// Opened up by hand (the socket itself is 0777 under umask 000): the
	// peer check alone must refuse.
	if err := os.Chmod(filepath.Dir(sock), 0o755); err != nil {
		t.Fatal(err)
	}
	out = asNobody(t, client, sock)
	if !strings.Contains(out, "code=0 err=control: refused: only root may") || ran.Load() != 0 {
		t.Fatalf("uid 65534 on an opened-up socket: %s (handler ran %d times)", out, ran.Load())
	}
	if l := logb.String(); !strings.Contains(l, "refused a connection from uid 65534") {
		t.Fatalf("refusal not logged: %q", l)
	}

	var sout bytes.Buffer
	code, err := Call(context.Background(), sock, Request{Op: "points", Body: []byte("{}")}, &sout, io.Discard)
	if err != nil || code != 0 || sout.String() != "served points\n" || ran.Load() != 1 {
		t.Fatalf("owner: code %d err %v out %q", code, err, sout.String())
	}
}

// TestPlantedDirectoryRefused: a control directory made by another user
// (possible in a repository directory others may write) is refused, and
// a symlink in its place is not followed.
func TestPlantedDirectoryRefused(t *testing.T) {
	needRoot(t)
	base, _ := worldDir(t)
	handler := func(context.Context, Request, io.Writer, io.Writer) int { return 0 }

	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(open, "planted")
	if out, err := nobodyCmd("mkdir", "-m", "0777", planted).CombinedOutput(); err != nil {
		t.Fatalf("mkdir as uid 65534: %v\n%s", err, out)
	}
	if s, err := Listen(filepath.Join(planted, "ctl.sock"), handler, nil); err == nil {
		s.Close()
		t.Fatal("Listen used a directory owned by uid 65534")
	} else if !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Fatalf("unclear error: %v", err)
	}

	target := filepath.Join(base, "elsewhere")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if s, err := Listen(filepath.Join(link, "ctl.sock"), handler, nil); err == nil {
		s.Close()
		t.Fatal("Listen followed a symlinked socket directory")
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestClientRefusesOtherServer: a socket served by another user (planted
// where a holder's should be) gets neither the command nor its secret.
func TestClientRefusesOtherServer(t *testing.T) {
	needRoot(t)
	base, client := worldDir(t)
	sockDir := filepath.Join(base, "planted")
	if err := os.Mkdir(sockDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(sockDir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(sockDir, "ctl.sock")
	srv := nobodyCmd(client)
	srv.Env = append(os.Environ(), serverEnv+"="+sock)
	stdin, err := srv.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); srv.Wait() }()
	line := make([]byte, 64)
	if n, _ := out.Read(line); !strings.HasPrefix(string(line[:n]), "listening") {
		t.Fatalf("server as uid 65534: %q", line[:n])
	}
	var sout bytes.Buffer
	_, err = Call(context.Background(), sock, Request{Op: "ingest", Body: []byte(`{"vcenter":{"password":"password"}}`)}, &sout, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "served by uid 65534") || strings.Contains(sout.String(), "password") {
		t.Fatalf("Call to a uid 65534 server: %v, output %q", err, sout.String())
	}
}
