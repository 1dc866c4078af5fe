package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/format"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// clientEnv makes the test binary a client of the API socket it names
// (run as another user by setpriv).
const clientEnv = "VMARCHIVE_SERVICE_TEST_CLIENT"

func TestMain(m *testing.M) {
	if path := os.Getenv(clientEnv); path != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		jobs, err := NewClient(path).Jobs(ctx)
		fmt.Printf("jobs=%d err=%v\n", len(jobs), err)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testImage makes a small GPT disk with an ext4 partition holding a file
// with the given text.
func testImage(t *testing.T, path, text string) {
	t.Helper()
	treeImage(t, path, map[string]string{"hello.txt": text})
}

// treeImage makes a small GPT disk whose ext4 partition holds the given
// files (testimages/disk-from-tree.sh: mke2fs -d).
func treeImage(t *testing.T, path string, files map[string]string) {
	t.Helper()
	testenv.NeedTools(t, "sgdisk", "mke2fs", "debugfs")
	tree := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(tree, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "testimages", "disk-from-tree.sh")
	if out, err := exec.Command("bash", script, tree, path, "8").CombinedOutput(); err != nil {
		t.Fatalf("disk-from-tree.sh: %v\n%s", err, out)
	}
}

// webhook is a local server recording the events posted to it.
type webhook struct {
	mu     sync.Mutex
	events []event
	srv    *httptest.Server
}

func newWebhook(t *testing.T) *webhook {
	w := &webhook{}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var e event
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		w.mu.Lock()
		w.events = append(w.events, e)
		w.mu.Unlock()
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhook) got(kind string) []event {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []event
	for _, e := range w.events {
		if e.Event == kind {
			out = append(out, e)
		}
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestImageJobOnSchedule runs an image job every second in this process:
// points appear on schedule, the retention keeps 2 per VM, an image that
// cannot be read fails its VM (the others are captured) and is posted
// to the webhook, the pre and post hooks run, the API over the socket
// agrees with the catalog, a run due while one goes on is not started,
// and a missed run runs once at the next start.
func TestImageJobOnSchedule(t *testing.T) {
	repo := catalog.TestRepo(t)
	dir := t.TempDir()
	images := filepath.Join(dir, "images")
	os.Mkdir(images, 0o700)
	testImage(t, filepath.Join(images, "web01.raw"), "web01")
	testImage(t, filepath.Join(images, "db01.raw"), "db01")
	// Not a whole number of sectors: refused as an image.
	os.WriteFile(filepath.Join(images, "broken.raw"), make([]byte, 1000), 0o600)
	offsite := filepath.Join(dir, "offsite")
	if _, err := catalog.Init(context.Background(), offsite, catalog.InitOptions{Chunking: format.DefaultChunking(catalog.MinChunkSize)}); err != nil {
		t.Fatal(err)
	}
	hooks := filepath.Join(dir, "hooks.log")
	hook := filepath.Join(dir, "hook.sh")
	os.WriteFile(hook, []byte("#!/bin/sh\necho \"$VMARCHIVE_PHASE $VMARCHIVE_JOB $VMARCHIVE_RESULT\" >>"+hooks+"\n[ $VMARCHIVE_PHASE = pre ] && sleep 1.2\nexit 0\n"), 0o700)
	wh := newWebhook(t)
	cfgPath := filepath.Join(dir, "config.yaml")
	text := fmt.Sprintf(`repo: %s
notify: {webhook: %s}
limits: {parallel-vms: 2}
jobs:
  - name: kvm
    images: {dir: images, match: "*.raw"}
    schedule: "@every 1s"
    retention: {keep-last: 2}
    copy-to: offsite
    rpo: 1h
    pre: hook.sh
    post: hook.sh
`, repo.Dir(), wh.srv.URL)
	os.WriteFile(cfgPath, []byte(text), 0o600)
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var logb lockedBuffer
	log := slog.New(slog.NewTextHandler(&logb, nil))
	s := New(repo, cfg, Options{Log: log})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, "3 runs", 60*time.Second, func() bool {
		runs, _ := repo.Runs("kvm")
		return len(runs) >= 3
	})
	// No more runs: then the API must agree with the catalog.
	os.WriteFile(cfgPath, []byte(strings.Replace(text, "@every 1s", "@yearly", 1)), 0o600)
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the last run to end", 30*time.Second, func() bool {
		jobs, _ := s.Jobs()
		return jobs[0].Running == nil
	})
	checkAPI(t, repo, s)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	runs, err := s.Runs("kvm")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.Result == ResultCancelled {
			continue
		}
		if r.Result != ResultFailed || len(r.VMs) != 3 || len(r.failed()) != 1 || r.failed()[0].VM != "broken" {
			t.Fatalf("run %+v: want failed with broken the one failed VM of 3", r)
		}
	}
	for _, vm := range []string{"web01", "db01"} {
		times, _ := repo.PointTimes(vm)
		if len(times) != 2 {
			t.Errorf("%s: %d points after %d runs, want 2 (keep-last 2)", vm, len(times), len(runs))
		}
	}
	if f := wh.got("run_failed"); len(f) < 2 || f[0].Job != "kvm" || !strings.Contains(f[0].Error+f[0].Run.failed()[0].Error, "broken.raw") {
		t.Fatalf("webhook run_failed events: %+v", f)
	}
	// copy-to got each run's new points (it keeps what the job forgot).
	dst, err := catalog.Open(context.Background(), offsite, catalog.Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	copied, _ := dst.PointTimes("web01")
	dst.Close()
	if done := finishedRuns(runs); len(copied) < done || runs[0].Copied != 2 {
		t.Fatalf("copy-to holds %d points of web01 after %d finished runs (first run copied %d)", len(copied), done, runs[0].Copied)
	}
	b, _ := os.ReadFile(hooks)
	if !strings.Contains(string(b), "pre kvm \npost kvm failed\n") {
		t.Fatalf("hooks ran: %q", b)
	}
	l := logb.String()
	for _, want := range []string{"run not started: the previous one is still going", `msg="vm captured" job=kvm vm=web01 point=`, "read=", "stored=", `msg="vm failed" job=kvm vm=broken`} {
		if !strings.Contains(l, want) {
			t.Fatalf("log lacks %q:\n%s", want, l)
		}
	}
}

func finishedRuns(runs []*Run) int {
	n := 0
	for _, r := range runs {
		if r.Result != ResultCancelled {
			n++
		}
	}
	return n
}

// TestFailedTestRestore: a point whose test restore fails fails its VM
// and the run, and is not the VM's newest good point.
func TestFailedTestRestore(t *testing.T) {
	repo := catalog.TestRepo(t)
	var calls atomic.Int32
	tester := func(ctx context.Context, r *catalog.Repo, m *catalog.Manifest, s Sample) error {
		if s != (Sample{2, 7}) {
			t.Errorf("sample %v, want 2/7", s)
		}
		if calls.Add(1) == 2 {
			return errors.New("disk0/p1/hello.txt: read: damaged")
		}
		return nil
	}
	s := startService(t, repo, "repo: %s\njobs:\n  - {name: kvm, images: {dir: images}, schedule: \"@yearly\", test-restore: sample 2/7}\n", Options{Tester: tester})
	testImage(t, filepath.Join(s.config().Jobs[0].Images.Dir, "web01.raw"), "web01")
	var runs []*Run
	for i := range 2 {
		if i == 1 {
			time.Sleep(time.Until(runs[0].VMs[0].End.Truncate(time.Second).Add(time.Second))) // points are named by the second
		}
		r, err := s.Start("kvm")
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the run", 30*time.Second, func() bool {
			got, _ := s.run("kvm", r.Start.Format(time.RFC3339Nano))
			return got != nil && got.Result != ResultRunning
		})
		runs, _ = s.Runs("kvm")
	}
	if runs[0].Result != ResultOK || runs[1].Result != ResultFailed || runs[1].VMs[0].Tested != "failed" || !strings.Contains(runs[1].VMs[0].TestError, "damaged") {
		t.Fatalf("runs: %+v / %+v", runs[0], runs[1])
	}
	st, err := s.Status()
	if err != nil || len(st) != 1 || st[0].State != ResultFailed || st[0].Newest.Format(time.RFC3339) != runs[0].VMs[0].Point {
		t.Fatalf("status %+v (%v); want newest good point %s", st, err, runs[0].VMs[0].Point)
	}
}

// checkAPI compares what the API socket says with the catalog.
func checkAPI(t *testing.T, repo *catalog.Repo, s *Service) {
	t.Helper()
	ctx := context.Background()
	c := NewClient(catalog.APIPath(repo.Dir()))
	runs, err := c.Runs(ctx, "kvm")
	recs, _ := repo.Runs("kvm")
	if err != nil || len(runs) != len(recs) || len(runs) == 0 {
		t.Fatalf("API runs: %d, %v; catalog %d", len(runs), err, len(recs))
	}
	last := runs[len(runs)-1]
	if one, err := c.Run(ctx, "kvm", last.Start.Format(time.RFC3339Nano)); err != nil || one.Result != last.Result || len(one.VMs) != len(last.VMs) {
		t.Fatalf("API run %s: %+v, %v", last.Start, one, err)
	}
	st, err := c.Status(ctx)
	if err != nil || len(st) != 3 {
		t.Fatalf("API status: %+v, %v", st, err)
	}
	for _, v := range st {
		times, _ := repo.PointTimes(v.VM)
		want := "ok"
		if v.VM == "broken" {
			want = "failed"
		}
		if v.State != want || (len(times) > 0 && !v.Newest.Equal(times[len(times)-1])) || (len(times) == 0) != v.Newest.IsZero() {
			t.Fatalf("API status of %s: %+v; catalog points %v", v.VM, v, times)
		}
	}
	jobs, err := c.Jobs(ctx)
	if err != nil || len(jobs) != 1 || jobs[0].Last == nil || !jobs[0].Last.Start.Equal(last.Start) || len(jobs[0].VMs) != 3 || jobs[0].Schedule != "@yearly" {
		t.Fatalf("API jobs: %+v, %v", jobs, err)
	}
	if _, err := c.Start(ctx, "nope"); err == nil || !strings.Contains(err.Error(), `job "nope": no such job`) {
		t.Fatalf("start of an unknown job: %v", err)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

var _ io.Writer = (*lockedBuffer)(nil)
