package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest/vsphere"
	"github.com/vmarchive/vmarchive/ingest/vsphere/vcsim"
	"github.com/vmarchive/vmarchive/service"
)

// serveFixture is a running `vmarchive serve` and what it talks to.
type serveFixture struct {
	repo, dir, config string
	cmd               *exec.Cmd
	log               *lockedBuffer
	done              chan struct{}
	sim               *vcsim.Sim
	slow              atomic.Bool // the simulator's disk reads crawl
	reads             atomic.Int64
	hook              *hookServer
	listen, token     string
	hookURL           string
	flats             []string // the VMs' disks
}

// hookServer records the webhook's events.
type hookServer struct {
	mu     sync.Mutex
	events []map[string]any
}

func (h *hookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var e map[string]any
	json.NewDecoder(r.Body).Decode(&e)
	h.mu.Lock()
	h.events = append(h.events, e)
	h.mu.Unlock()
}

// count returns how many events of kind concern vm ("" any).
func (h *hookServer) count(kind, vm string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, e := range h.events {
		if e["event"] == kind && (vm == "" || e["vm"] == vm) {
			n++
		}
	}
	return n
}

func (h *hookServer) dump() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, _ := json.Marshal(h.events)
	return string(b)
}

// startServe makes two jobs, vsphere (the simulator's web01 and db01,
// CBT) and kvm (an image directory with a file that is no image), and
// starts the service.
func startServe(t *testing.T) *serveFixture {
	v1, v2 := demoDisks(t)
	f := &serveFixture{dir: t.TempDir(), hook: &hookServer{}, log: &lockedBuffer{}}
	s, err := vcsim.Start(context.Background(), v1, t.TempDir(), vcsim.Options{Username: "backup", Password: simPassword, CBT: true,
		Wrap: func(serve http.HandlerFunc) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				f.reads.Add(1)
				if f.slow.Load() {
					time.Sleep(200 * time.Millisecond)
				}
				serve(w, r)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	db, err := s.AddVM(context.Background(), "db01", "", v2)
	if err != nil {
		t.Fatal(err)
	}
	f.flats = []string{s.Flat, db.Flat}
	f.sim = s
	images := filepath.Join(f.dir, "images")
	os.Mkdir(images, 0o700)
	tree := t.TempDir()
	os.WriteFile(filepath.Join(tree, "a.txt"), []byte("guest file"), 0o644)
	sh(t, "bash", filepath.Join(repoRoot(t), "testimages", "disk-from-tree.sh"), tree, filepath.Join(images, "img01.raw"), "8")
	os.WriteFile(filepath.Join(images, "broken.raw"), make([]byte, 1000), 0o600) // not whole sectors: unreadable
	os.WriteFile(filepath.Join(f.dir, "vc-password"), []byte(simPassword+"\n"), 0o600)
	f.token = "tok-5e1f-never-logged"
	os.WriteFile(filepath.Join(f.dir, "token"), []byte(f.token+"\n"), 0o600)
	hook := httptest.NewServer(f.hook)
	t.Cleanup(hook.Close)
	f.hookURL = hook.URL
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.listen = ln.Addr().String()
	ln.Close()

	f.repo = newRepo(t)
	f.config = filepath.Join(f.dir, "config.yaml")
	f.write(t, "@every 4s", "@every 2s")
	f.cmd = exec.Command(vmarchiveBin(t), "serve", "--config", f.config)
	f.cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "GOVC_URL=", "GOVC_PASSWORD=", "VMARCHIVE_REPO=")
	f.cmd.Stdout, f.cmd.Stderr = f.log, f.log
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.done = make(chan struct{})
	go func() { f.cmd.Wait(); close(f.done) }()
	t.Cleanup(func() {
		f.cmd.Process.Kill()
		<-f.done
	})
	return f
}

// write writes the config with the two jobs' schedules.
func (f *serveFixture) write(t *testing.T, vsphereSched, imageSched string) {
	t.Helper()
	text := fmt.Sprintf(`repo: %s
listen: %s
token-file: token
notify: {webhook: %s}
limits: {parallel-vms: 2}
jobs:
  - name: vsphere
    vsphere: {url: "https://%s/sdk", username: backup, password-file: vc-password, insecure: true, vms: [web01, db01]}
    schedule: "%s"
    cbt: true
    retention: {keep-last: 3}
  - name: kvm
    images: {dir: images, match: "*.raw"}
    schedule: "%s"
    rpo: 4s
    retention: {keep-last: 2}
    test-restore: every-point
`, f.repo, f.listen, f.hookURL, f.sim.URL.Host, vsphereSched, imageSched)
	if err := os.WriteFile(f.config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// runsOf asks the service for a job's runs.
func (f *serveFixture) runsOf(t *testing.T, job string) []*service.Run {
	t.Helper()
	r := run(t, f.repo, nil, "runs", "--job", job, "--json")
	if r.code != 0 {
		return nil
	}
	var runs []*service.Run
	if err := json.Unmarshal([]byte(r.stdout), &runs); err != nil {
		t.Fatalf("runs --json: %v\n%s", err, r.stdout)
	}
	return runs
}

func finished(runs []*service.Run, result string) int {
	n := 0
	for _, r := range runs {
		if r.Result == result {
			n++
		}
	}
	return n
}

func waitUntil(t *testing.T, f *serveFixture, what string, d time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s; service log:\n%s", what, f.log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestServeEndToEnd runs `vmarchive serve` with a vSphere job (govmomi's
// simulator, two VMs, CBT) and an image job on schedules of seconds:
// points appear on schedule and the retention holds; the image that
// cannot be read fails its VM and reaches the webhook; jobs, runs and
// status agree with the catalog; /metrics has the figures behind its
// token; a paused job's VMs breach their RPO, notified once each; SIGHUP
// with a broken config keeps the old one; SIGTERM during a capture
// leaves no snapshot and no partial point. The vCenter password appears
// in no log, run record or output.
func TestServeEndToEnd(t *testing.T) {
	f := startServe(t)
	waitUntil(t, f, "2 vSphere runs and 3 image runs", 90*time.Second, func() bool {
		return finished(f.runsOf(t, "vsphere"), service.ResultOK) >= 2 && len(f.runsOf(t, "kvm")) >= 3
	})
	// Pause both jobs (a good reload), then compare with the catalog.
	f.write(t, "@yearly", "@yearly")
	f.cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, f, "the reload and the last runs", 30*time.Second, func() bool {
		var jobs []service.JobInfo
		r := run(t, f.repo, nil, "jobs", "--json")
		json.Unmarshal([]byte(r.stdout), &jobs)
		return len(jobs) == 2 && jobs[0].Schedule == "@yearly" && jobs[0].Running == nil && jobs[1].Running == nil
	})
	checkServeAgrees(t, f)
	checkMetrics(t, f)

	// The paused image job's VMs go late: one rpo_late each.
	waitUntil(t, f, "RPO breaches", 20*time.Second, func() bool {
		return f.hook.count("rpo_late", "img01") == 1 && f.hook.count("rpo_late", "broken") == 1
	})
	time.Sleep(2500 * time.Millisecond)
	if n := f.hook.count("rpo_late", "img01"); n != 1 {
		t.Fatalf("img01's breach notified %d times: %s", n, f.hook.dump())
	}
	if f.hook.count("run_failed", "") == 0 || !strings.Contains(f.hook.dump(), "broken.raw") {
		t.Fatalf("webhook got no failure naming broken.raw: %s", f.hook.dump())
	}

	// A broken config is refused with its line; the old one runs on.
	os.WriteFile(f.config, []byte("repo: "+f.repo+"\njobs:\n  - name: x\n    schedule: [\n"), 0o600)
	f.cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, f, "the refusal", 10*time.Second, func() bool {
		return strings.Contains(f.log.String(), "config not reloaded: the old one keeps running")
	})
	if out := mustRun(t, f.repo, "jobs"); !strings.Contains(out, "vsphere") || !strings.Contains(out, "@yearly") {
		t.Fatalf("jobs after a refused reload:\n%s", out)
	}

	checkTermMidCapture(t, f)
	for _, text := range []string{f.log.String(), f.hook.dump()} {
		if strings.Contains(text, simPassword) || strings.Contains(text, f.token) {
			t.Fatal("a secret appears in the service's log or webhook events")
		}
	}
}

// checkServeAgrees compares jobs, runs and status with the catalog
// (read through the service, which holds it).
func checkServeAgrees(t *testing.T, f *serveFixture) {
	t.Helper()
	var pts []struct {
		VM   string    `json:"vm"`
		Time time.Time `json:"time"`
	}
	r := run(t, f.repo, nil, "points", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &pts); err != nil {
		t.Fatalf("points --json: %v\n%s%s", err, r.stdout, r.stderr)
	}
	newest, count := map[string]time.Time{}, map[string]int{}
	for _, p := range pts {
		count[p.VM]++
		if p.Time.After(newest[p.VM]) {
			newest[p.VM] = p.Time
		}
	}
	if count["img01"] != 2 || count["web01"] < 2 || count["web01"] > 3 || count["db01"] < 2 || count["broken"] != 0 {
		t.Fatalf("points per VM: %v (img01 keeps 2, web01 and db01 2-3)", count)
	}
	var st []service.VMStatus
	json.Unmarshal([]byte(mustRun(t, f.repo, "status", "--json")), &st)
	if len(st) != 4 {
		t.Fatalf("status: %+v", st)
	}
	for _, s := range st {
		if !s.Newest.Equal(newest[s.VM]) || (s.VM == "broken") != (s.LastRun == service.ResultFailed) {
			t.Fatalf("status of %s: %+v; newest point in the catalog %s", s.VM, s, newest[s.VM])
		}
	}
	runs := f.runsOf(t, "kvm")
	last := runs[len(runs)-1]
	if last.Result != service.ResultFailed || len(last.VMs) != 2 || !strings.Contains(last.VMs[0].Error, "broken.raw") || last.VMs[1].Tested != "ok" {
		t.Fatalf("last kvm run: %+v", last)
	}
	vs := f.runsOf(t, "vsphere")
	if v := vs[len(vs)-1]; v.Result != service.ResultOK || len(v.VMs) != 2 || v.VMs[0].Point == "" {
		t.Fatalf("last vsphere run: %+v", v)
	}
	out := mustRun(t, f.repo, "runs")
	if strings.Contains(out, simPassword) || !strings.Contains(out, "kvm") {
		t.Fatalf("runs:\n%s", out)
	}
}

// checkMetrics reads /metrics with and without the token.
func checkMetrics(t *testing.T, f *serveFixture) {
	t.Helper()
	get := func(token string) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+f.listen+"/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("wrong"); code != http.StatusUnauthorized {
		t.Fatalf("/metrics with a wrong token: %d", code)
	}
	code, body := get(f.token)
	for _, want := range []string{`vmarchive_job_last_run_success{job="vsphere"} 1`, `vmarchive_job_last_run_success{job="kvm"} 0`,
		`vmarchive_vm_last_run_failed{job="kvm",vm="broken"} 1`, `vmarchive_vm_newest_point_age_seconds{job="vsphere",vm="web01"}`,
		`vmarchive_job_last_run_read_bytes{job="vsphere"}`, `vmarchive_repository_vms 3`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Fatalf("/metrics (%d) lacks %q:\n%s", code, want, body)
		}
	}
}

// checkTermMidCapture starts the vSphere job with crawling disk reads,
// sends SIGTERM while it captures, and checks that no snapshot and no
// new point remain and that the run is recorded as cancelled.
func checkTermMidCapture(t *testing.T, f *serveFixture) {
	t.Helper()
	before := len(mustRunPoints(t, f))
	for _, flat := range f.flats { // CBT then has areas to read
		fh, err := os.OpenFile(flat, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 8<<20)
		rand.Read(buf)
		fh.WriteAt(buf, 64<<20)
		fh.Close()
	}
	f.slow.Store(true)
	defer f.slow.Store(false)
	reads := f.reads.Load()
	follow := exec.Command(vmarchiveBin(t), "run", "vsphere")
	follow.Env = append(os.Environ(), "VMARCHIVE_REPO="+f.repo, "HOME="+t.TempDir())
	var fout bytes.Buffer
	follow.Stdout, follow.Stderr = &fout, &fout
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, f, "disk reads of the run", 30*time.Second, func() bool { return f.reads.Load() > reads+2 })
	f.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-f.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve still running 30s after SIGTERM:\n%s", f.log.String())
	}
	follow.Wait()
	if code := f.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("serve exited %d after SIGTERM:\n%s", code, f.log.String())
	}
	if !strings.Contains(fout.String(), "run of vsphere started") {
		t.Fatalf("vmarchive run vsphere:\n%s", fout.String())
	}
	c, err := vsphere.Connect(context.Background(), vsphere.Config{URL: f.sim.URL.String(), Username: "backup", Password: simPassword, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	vms, err := c.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, vm := range vms {
		if len(vm.Snapshots) != 0 {
			t.Fatalf("VM %s keeps snapshots %v after SIGTERM", vm.Name, vm.Snapshots)
		}
	}
	r, err := catalog.Open(context.Background(), f.repo, catalog.Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pts, _ := r.Points("")
	recs, _ := r.Runs("vsphere")
	last := recs[len(recs)-1]
	if len(pts) != before || !strings.Contains(string(last.Value), `"result":"cancelled"`) {
		t.Fatalf("after SIGTERM: %d points (before %d), last run %s", len(pts), before, last.Value)
	}
	if strings.Contains(string(last.Value), simPassword) {
		t.Fatal("the password is in a run record")
	}
}

func mustRunPoints(t *testing.T, f *serveFixture) []json.RawMessage {
	var pts []json.RawMessage
	json.Unmarshal([]byte(mustRun(t, f.repo, "points", "--json")), &pts)
	return pts
}
