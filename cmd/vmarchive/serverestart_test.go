package main

import (
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// serveProc is one `vmarchive serve` process.
type serveProc struct {
	cmd  *exec.Cmd
	log  *lockedBuffer
	done chan struct{}
}

// startServeProc starts `vmarchive serve --config config` and waits
// until its API answers.
func startServeProc(t *testing.T, repo, config string) *serveProc {
	t.Helper()
	p := &serveProc{log: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(vmarchiveBin(t), "serve", "--config", config)
	p.cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "VMARCHIVE_REPO=")
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	f := &serveFixture{log: p.log}
	waitUntil(t, f, "the service's API", 30*time.Second, func() bool {
		return run(t, repo, nil, "jobs").code == 0
	})
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *serveProc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve still running 30s after SIGTERM:\n%s", p.log.String())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, p.log.String())
	}
}

// TestServeRestartKeepsBreaches: a VM whose RPO breach was notified is
// not notified again by a restarted `vmarchive serve` while the breach
// goes on. The restarted service's first RPO check is seen by a breach
// it must notify (job other's rpo is new in its config), in the same
// check that would repeat img01's.
func TestServeRestartKeepsBreaches(t *testing.T) {
	dir := t.TempDir()
	for _, vm := range []string{"a/img01", "b/img02"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(vm)), 0o700)
		disk := make([]byte, 1<<20)
		rand.Read(disk)
		if err := os.WriteFile(filepath.Join(dir, vm+".raw"), disk, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	hook := &hookServer{}
	srv := httptest.NewServer(hook)
	t.Cleanup(srv.Close)
	repo := newRepo(t)
	config := filepath.Join(dir, "config.yaml")
	write := func(otherRPO string) {
		text := fmt.Sprintf(`repo: %s
notify: {webhook: %s}
jobs:
  - {name: kvm, images: {dir: a}, schedule: "@yearly", rpo: 2s}
  - {name: other, images: {dir: b}, schedule: "@yearly"%s}
`, repo, srv.URL, otherRPO)
		if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("")
	p := startServeProc(t, repo, config)
	mustRun(t, repo, "run", "kvm")
	mustRun(t, repo, "run", "other")
	f := &serveFixture{log: p.log}
	waitUntil(t, f, "img01's breach", 20*time.Second, func() bool { return hook.count("rpo_late", "img01") == 1 })
	p.stop(t)

	write(", rpo: 1s")
	p = startServeProc(t, repo, config)
	f.log = p.log
	waitUntil(t, f, "img02's breach", 20*time.Second, func() bool { return hook.count("rpo_late", "img02") == 1 })
	if n := hook.count("rpo_late", "img01"); n != 1 {
		t.Fatalf("img01's breach notified %d times over a restart: %s", n, hook.dump())
	}
	p.stop(t)
}
