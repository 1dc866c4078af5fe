package service

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/format"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// startService runs a service of the config text (repo and images dir
// filled in) until the test ends.
func startService(t *testing.T, repo *catalog.Repo, text string, o Options) *Service {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "config.yaml")
	os.Mkdir(filepath.Join(dir, "images"), 0o700)
	os.WriteFile(p, []byte(fmt.Sprintf(text, repo.Dir())), 0o600)
	cfg, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s := New(repo, cfg, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	waitFor(t, "the API socket", 10*time.Second, func() bool {
		_, err := NewClient(catalog.APIPath(repo.Dir())).Jobs(context.Background())
		return err == nil
	})
	return s
}

// TestMissedRunAtStart: a job whose schedule had a time since its last
// recorded run runs once at start; a job never run does not.
func TestMissedRunAtStart(t *testing.T) {
	repo := catalog.TestRepo(t)
	long := time.Now().Add(-2 * time.Hour).UTC()
	if err := repo.PutRun("hourly", long, []byte(`{"job":"hourly","result":"ok","vms":[]}`), 5); err != nil {
		t.Fatal(err)
	}
	if err := repo.PutRun("daily", long, []byte(`{"job":"daily","result":"ok","vms":[]}`), 5); err != nil {
		t.Fatal(err)
	}
	startService(t, repo, `repo: %s
jobs:
  - {name: hourly, images: {dir: images}, schedule: "@hourly"}
  - {name: daily, images: {dir: images}, schedule: "@every 24h"}
  - {name: fresh, images: {dir: images}, schedule: "@hourly"}
`, Options{})
	waitFor(t, "the missed run", 10*time.Second, func() bool {
		r, _ := repo.Runs("hourly")
		return len(r) == 2
	})
	time.Sleep(200 * time.Millisecond)
	runs, _ := repo.Runs("")
	var got []string
	for _, r := range runs {
		run, err := decodeRun(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.Job+":"+run.Trigger)
	}
	if strings.Join(got, " ") != "daily: hourly: hourly:missed" {
		t.Fatalf("runs after start: %v, want only hourly's missed run", got)
	}
}

// TestAPIOwnerOnly: another local user cannot use the API socket: its
// directory is owner-only, and opened up by hand the server still drops
// the connection by its peer uid. The owner is served.
func TestAPIOwnerOnly(t *testing.T) {
	testenv.NeedTools(t, "setpriv")
	testenv.NeedRoot(t)
	old := syscall.Umask(0) // the socket itself is then 0777
	defer syscall.Umask(old)
	base, client := worldDir(t)
	dir := filepath.Join(base, "repo")
	ctx := context.Background()
	if _, err := catalog.Init(ctx, dir, catalog.InitOptions{Chunking: format.DefaultChunking(catalog.MinChunkSize)}); err != nil {
		t.Fatal(err)
	}
	repo, err := catalog.Open(ctx, dir, catalog.Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	var logb lockedBuffer
	startService(t, repo, "repo: %s\njobs:\n  - {name: kvm, images: {dir: images}, schedule: \"@yearly\"}\n",
		Options{Log: slog.New(slog.NewTextHandler(&logb, nil))})
	sock := catalog.APIPath(dir)
	if out := asNobody(t, client, sock); !strings.Contains(out, "permission denied") || strings.Contains(out, "jobs=1") {
		t.Fatalf("uid 65534 through the 0700 directory: %s", out)
	}
	// Opened up by hand (Open made the repository 0700 again).
	for _, d := range []string{dir, filepath.Dir(sock)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out2 := asNobody(t, client, sock)
	if out := out2; strings.Contains(out, "err=<nil>") || strings.Contains(out, "jobs=1") {
		t.Fatalf("uid 65534 on an opened-up socket: %s", out)
	}
	if l := logb.String(); !strings.Contains(l, "API: refused a connection") || !strings.Contains(l, "uid=65534") {
		t.Fatalf("refusal not logged: %s (client: %s)", l, out2)
	}
	if jobs, err := NewClient(sock).Jobs(ctx); err != nil || len(jobs) != 1 {
		t.Fatalf("owner: %v, %v", jobs, err)
	}
}

// asNobody runs the test binary as an API client of sock as uid 65534.
func asNobody(t *testing.T, client, sock string) string {
	t.Helper()
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", client)
	cmd.Env = append(os.Environ(), clientEnv+"="+sock)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("client as uid 65534: %v\n%s", err, out)
	}
	return string(out)
}

// worldDir is a directory every user may enter, holding a copy of the
// test binary every user may run.
func worldDir(t *testing.T) (dir, client string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "vmarchive-service")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
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
