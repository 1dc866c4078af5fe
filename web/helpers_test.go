package web

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

var t0 = time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)

// The users' passwords and their hashes, made with cheap parameters so
// each fuzz worker verifies them fast (TestPasswordHashes covers
// HashPassword's own).
const (
	adminPW = "admin-Pa55-word"
	opPW    = "helpdesk-s3cret-xyz"
	ah      = "$argon2id$v=19$m=1024,t=1,p=1$LczhjA8n7F4TPSy3MYUeeA$k1sX9GqnTYBRcQdwgglsbuYVFzU98F8iPrtjlfQ4THw"
	oh      = "$2a$04$kw0FFND10NOclJNlT2.ctekfvNb4Vt/01/PxIQjf7.e3g2eohQAPu"
)

func script(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testimages", name)
}

func sh(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// refArchive is a repository with VMs web1 and db1, each one point of a
// GPT+ext4 disk of the reference tree (testimages/reftree.sh).
type refArchive struct {
	repo *catalog.Repo
	tree string // the reference tree
	disk string // its disk image
}

var (
	refOnce sync.Once
	refDir  string
)

func newRefArchive(t testing.TB) *refArchive {
	t.Helper()
	testenv.NeedTools(t, "sgdisk", "mke2fs", "setfattr", "setfacl")
	testenv.NeedRoot(t)
	dir := t.TempDir()
	a := &refArchive{repo: catalog.TestRepo(t), tree: filepath.Join(dir, "tree"), disk: filepath.Join(dir, "disk.raw")}
	sh(t, "bash", script("reftree.sh"), a.tree, "1")
	sh(t, "bash", script("disk-from-tree.sh"), a.tree, a.disk, "96")
	for _, vm := range []string{"web1", "db1"} {
		d, err := image.Open(a.disk)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ingest.Ingest(context.Background(), a.repo, ingest.Options{VM: vm, Time: t0}, []ingest.DiskSpec{{Name: "disk0", Disk: d, Source: a.disk, Format: d.Format()}})
		d.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// testConfig has an admin, an operator of web*, and a token user of db1.
func testConfig(t testing.TB) *Config {
	t.Helper()
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("tok-0123456789abcdef-db1\n"), 0o600)
	cfg := &Config{Users: []User{
		{Name: "admin", PasswordHash: ah, Role: "admin"},
		{Name: "helpdesk", PasswordHash: oh, VMs: []string{"web*"}},
		{Name: "dbbot", TokenFile: tok, VMs: []string{"db1"}},
	}}
	if err := cfg.Check(dir); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// logBuffer collects what the server logs.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newTestServer(t testing.TB, archive *catalog.Repo) (*Server, *logBuffer) {
	logs := &logBuffer{}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "api") })
	s := New(testConfig(t), Options{Archive: archive, Log: slog.New(slog.NewTextHandler(logs, nil)), API: api, Metrics: api})
	s.statsWait = time.Minute // no figures computed past the test's end
	return s, logs
}

// serve serves s on a loopback port of this helper's range until the
// test ends and returns its base URL.
func serve(t testing.TB, s http.Handler) string {
	t.Helper()
	ln, err := listenLocal()
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// listenLocal listens on a loopback port of 19650-19699, or of the
// range VMARCHIVE_WEB_TEST_PORTS gives as FIRST-LAST (tests run beside
// others on one machine).
func listenLocal() (net.Listener, error) {
	first, last := 19650, 19699
	if s := os.Getenv("VMARCHIVE_WEB_TEST_PORTS"); s != "" {
		var f, l int
		if _, err := fmt.Sscanf(s, "%d-%d", &f, &l); err == nil && 0 < f && f <= l && l < 65536 {
			first, last = f, l
		}
	}
	var err error
	for port := first; port <= last; port++ {
		var ln net.Listener
		if ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			return ln, nil
		}
	}
	return nil, err
}
