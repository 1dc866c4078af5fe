package main

import (
	"bytes"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestNBDCommand: vmarchive nbd serves a point's disk on tcp, takes
// qemu-io's write into its overlay, stops on SIGTERM, and --commit makes
// the written disk a new point.
func TestNBDCommand(t *testing.T) {
	testenv.NeedTools(t, "qemu-img", "qemu-io")
	repo := newRepo(t)
	img := filepath.Join(t.TempDir(), "d.raw")
	sh(t, "qemu-img", "create", "-q", "-f", "raw", img, "4M")
	sh(t, "qemu-io", "-f", "raw", "-c", "write -P 0x33 1M 1M", img)
	mustRun(t, repo, "ingest", "--vm", "x", "--point-time", "2026-11-01T00:00:00Z", "disk0="+img)
	ovl := filepath.Join(t.TempDir(), "x.ovl")

	const addr = "127.0.0.1:19702"
	cmd := exec.Command(vmarchiveBin(t), "nbd", "--vm", "x", "--disk", "disk0", "--listen", "tcp:"+addr, "--overlay", ovl)
	cmd.Env = append(cmd.Environ(), "VMARCHIVE_REPO="+repo, "HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if i == 200 {
			t.Fatalf("nbd did not listen: %v\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	sh(t, "qemu-io", "-f", "raw", "-c", "write -P 0x42 0 64k", "nbd://"+addr+"/disk0")
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("nbd after SIGTERM: %v\n%s", err, stderr.String())
	}

	point := strings.TrimSpace(mustRun(t, repo, "nbd", "--vm", "x", "--disk", "disk0", "--point", "2026-11-01T00:00:00Z", "--overlay", ovl, "--commit"))
	want := readFile(t, img)
	copy(want, bytes.Repeat([]byte{0x42}, 64<<10))
	if got := catDisk(t, repo, "x", strings.TrimPrefix(point, "x/"), "disk0"); !bytes.Equal(got, want) {
		t.Fatalf("committed point %s differs from the disk with the write", point)
	}
	if got := catDisk(t, repo, "x", "2026-11-01T00:00:00Z", "disk0"); !bytes.Equal(got, readFile(t, img)) {
		t.Fatal("the base point changed")
	}

	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--listen", "bogus"}, `--listen "bogus": want unix:PATH or tcp:HOST:PORT`},
		{[]string{"--listen", "tcp:" + addr, "--commit", "--overlay", ovl}, "not both or neither"},
		{[]string{"--commit"}, "--commit needs --overlay"},
		{[]string{"--listen", "tcp:" + addr, "--readahead", "lots"}, `--readahead "lots"`},
		{[]string{"--disk", "disk9", "--listen", "tcp:" + addr}, `"disk9"`},
	} {
		r := run(t, repo, nil, append([]string{"nbd", "--vm", "x", "--disk", "disk0"}, tc.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("nbd %v: exit %d, stderr %q, want %q", tc.args, r.code, r.stderr, tc.msg)
		}
	}
}
