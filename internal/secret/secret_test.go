package secret

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// fakeTerminal answers prompts from a list (a hand-written fake).
type fakeTerminal struct {
	answers []string
	prompts []string
}

func (f *fakeTerminal) ReadPassword(ctx context.Context, prompt string) ([]byte, error) {
	f.prompts = append(f.prompts, prompt)
	if len(f.answers) == 0 {
		return nil, errors.New("no more answers")
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	return []byte(a), nil
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrecedence(t *testing.T) {
	ctx := context.Background()
	file, env := writeFile(t, "from-flag\nsecond line\n"), writeFile(t, "from-env\r\n")
	tty := &fakeTerminal{answers: []string{"from-tty"}}
	cmd := "echo from-command; echo second"
	for _, tc := range []struct {
		name string
		s    Sources
		want string
	}{
		{"file wins", Sources{File: file, EnvFile: env, Command: cmd, Terminal: tty}, "from-flag"},
		{"env file next", Sources{EnvFile: env, Command: cmd, Terminal: tty}, "from-env"},
		{"command next", Sources{Command: cmd, Terminal: tty}, "from-command"},
		{"terminal last", Sources{Terminal: tty}, "from-tty"},
	} {
		pw, err := tc.s.Password(ctx)
		if err != nil || string(pw) != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, pw, err, tc.want)
		}
	}
	if len(tty.prompts) != 1 {
		t.Errorf("terminal asked %d times, want once (only when nothing else is given)", len(tty.prompts))
	}
}

func TestNoSource(t *testing.T) {
	_, err := Sources{}.Password(context.Background())
	if !errors.Is(err, ErrNoSource) || !strings.Contains(err.Error(), "--password-file") {
		t.Fatalf("got %v, want ErrNoSource saying how to give a password", err)
	}
}

func TestBadSources(t *testing.T) {
	ctx := context.Background()
	const secret = "hunter2-distinctive"
	for _, tc := range []struct {
		name string
		s    Sources
		want string
	}{
		{"missing file", Sources{File: "/nonexistent/pw"}, `--password-file: open /nonexistent/pw: no such file`},
		{"missing env file", Sources{EnvFile: "/nonexistent/pw"}, EnvFile + `: open /nonexistent/pw`},
		{"empty file", Sources{File: writeFile(t, "\n"+secret)}, `is empty`},
		{"failing command", Sources{Command: "echo " + secret + "; exit 3"}, `--password-command "echo ` + secret + `; exit 3" failed (exit status 3)`},
		{"silent command", Sources{Command: "true"}, `is empty`},
		{"named command", Sources{Command: "exit 4", CommandFlag: "--to-password-command"}, `--to-password-command "exit 4" failed`},
		{"named file", Sources{File: "/nonexistent/pw", FileFlag: "--from-password-file"}, `--from-password-file: open /nonexistent/pw`},
		{"flood", Sources{Command: "head -c 100000 /dev/zero | tr '\\0' x"}, `printed more than`},
	} {
		var stderr bytes.Buffer
		tc.s.Stderr = &stderr
		_, err := tc.s.Password(ctx)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
			continue
		}
		// The command line names the secret here on purpose (it is the
		// user's own text); its output must not be repeated.
		if strings.Count(err.Error(), secret) > strings.Count(tc.s.Command, secret) {
			t.Errorf("%s: the error repeats what the source held: %v", tc.name, err)
		}
	}
}

func TestCommandStderrPassesThrough(t *testing.T) {
	var stderr bytes.Buffer
	s := Sources{Command: "echo pw; echo 'agent says hello' >&2", Stderr: &stderr}
	pw, err := s.Password(context.Background())
	if err != nil || string(pw) != "pw" || stderr.String() != "agent says hello\n" {
		t.Fatalf("got %q, %v, stderr %q", pw, err, stderr.String())
	}
}

func TestNewPasswordTwice(t *testing.T) {
	ctx := context.Background()
	tty := &fakeTerminal{answers: []string{"aaa", "aaa"}}
	pw, err := Sources{Terminal: tty, What: "new password"}.NewPassword(ctx)
	if err != nil || string(pw) != "aaa" {
		t.Fatalf("got %q, %v", pw, err)
	}
	if strings.Join(tty.prompts, "|") != "Enter new password: |Enter new password again: " {
		t.Errorf("prompts %q", tty.prompts)
	}
	tty = &fakeTerminal{answers: []string{"aaa", "aab"}}
	if _, err := (Sources{Terminal: tty}).NewPassword(ctx); !errors.Is(err, ErrMismatch) {
		t.Fatalf("mismatch: got %v", err)
	}
	// A file is read once: nobody can mistype it.
	pw, err = Sources{File: writeFile(t, "f")}.NewPassword(ctx)
	if err != nil || string(pw) != "f" {
		t.Fatalf("file: got %q, %v", pw, err)
	}
}

// TestTTY reads a password through a real pseudo-terminal: echo is off
// while it is typed and back on afterwards.
func TestTTY(t *testing.T) {
	ptm, pts, err := pty.Open()
	if err != nil {
		testenv.Missing(t, "no pseudo-terminal: "+err.Error())
	}
	defer ptm.Close()
	defer pts.Close()
	var screen lockedBuffer  // what the terminal shows (its echo)
	go io.Copy(&screen, ptm) // ends with EIO when pts closes
	var out lockedBuffer
	tty := OpenTTY(pts, &out)
	if tty == nil {
		t.Fatal("a pty slave is not taken for a terminal")
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if OpenTTY(pr, &out) != nil {
		t.Fatal("a pipe is taken for a terminal")
	}
	go func() { // type once the prompt shows, as a person would
		for !strings.Contains(out.String(), "Enter password") {
			time.Sleep(time.Millisecond)
		}
		ptm.Write([]byte("s3cret-typed\n"))
	}()
	got, err := tty.ReadPassword(context.Background(), "Enter password: ")
	if err != nil || string(got) != "s3cret-typed" {
		t.Fatalf("got %q, %v", got, err)
	}
	time.Sleep(100 * time.Millisecond) // let any echo arrive
	if shown := screen.String(); strings.Contains(shown, "s3cret") {
		t.Errorf("the password was echoed: %q", shown)
	}
	if out.String() != "Enter password: \n" {
		t.Errorf("prompt output %q", out.String())
	}
	// Cancelled while waiting: echo comes back on.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if _, err := tty.ReadPassword(ctx, "p: "); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled read: %v", err)
	}
	if !echoOn(t, pts) {
		t.Error("echo stays off after a cancelled prompt")
	}
}

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
