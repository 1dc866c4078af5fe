package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestIngestRefusesNonImages: FIFOs, character devices, empty files and
// odd-sized "raw" files end ingest at once (exit 2) naming the path, with
// no point made; --format raw takes an odd-sized file anyway.
func TestIngestRefusesNonImages(t *testing.T) {
	repo := newRepo(t) // builds the binary, outside the timeouts below
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.img")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.img")
	odd := filepath.Join(dir, "odd.img")
	os.WriteFile(empty, nil, 0o600)
	os.WriteFile(odd, bytes.Repeat([]byte("x"), 362), 0o600)
	for _, c := range []struct{ path, want string }{
		{fifo, "FIFO"}, {"/dev/null", "character device"}, {"/dev/zero", "character device"},
		{empty, "empty"}, {odd, "--format raw"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, vmarchiveBin(t), "ingest", "--vm", "x", "--no-index", "disk0="+c.path)
		cmd.Env = append(os.Environ(), "VMARCHIVE_REPO="+repo, "HOME="+t.TempDir())
		var errb bytes.Buffer
		cmd.Stderr = &errb
		err := cmd.Run()
		late := ctx.Err() != nil
		cancel()
		if late {
			t.Fatalf("ingest %s: still running after 20s", c.path)
		}
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(errb.String(), strconv.Quote(c.path)) || !strings.Contains(errb.String(), c.want) {
			t.Errorf("ingest %s: %v, stderr %q; want exit 2 naming it and saying %q", c.path, err, errb.String(), c.want)
		}
	}
	if out := mustRun(t, repo, "points", "--vm", "x"); pointName.MatchString(out) {
		t.Errorf("a refused ingest left a point:\n%s", out)
	}
	mustRun(t, repo, "ingest", "--vm", "x", "--no-index", "--format", "raw", "disk0="+odd)
}

// TestIngestInterrupted: SIGTERM in the middle of an ingest ends it within
// seconds, exit 2, saying it was interrupted, and leaves no point.
func TestIngestInterrupted(t *testing.T) {
	repo := newRepo(t)
	img := filepath.Join(t.TempDir(), "big.raw")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	block := make([]byte, 16<<20)
	rand.NewChaCha8([32]byte{1}).Read(block)
	for range 64 { // 1 GiB: far more than is read before the signal
		f.Write(block)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(vmarchiveBin(t), "ingest", "--vm", "x", "--no-index", "disk0="+img)
	cmd.Env = append(os.Environ(), "VMARCHIVE_REPO="+repo, "HOME="+t.TempDir())
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Signal once the ingest has read 32 MiB of the image.
	for readBytes(cmd.Process.Pid) < 32<<20 {
		select {
		case err := <-done:
			t.Fatalf("ingest ended before the signal: %v\n%s", err, errb.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("ingest still running 10s after SIGTERM")
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(errb.String(), "interrupted, no point was created") {
		t.Fatalf("ingest after SIGTERM: %v, stderr %q; want exit 2 saying it was interrupted", err, errb.String())
	}
	if out := mustRun(t, repo, "points", "--vm", "x"); pointName.MatchString(out) {
		t.Errorf("an interrupted ingest left a point:\n%s", out)
	}
}

var pointName = regexp.MustCompile(`\d{4}-\d\d-\d\dT`)

// readBytes is what process pid has read so far (rchar of /proc/PID/io).
func readBytes(pid int) int64 {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "rchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// TestMovedFilesDedup: files the guest laid out anew (two removed before
// them, the filesystem rebuilt by mke2fs -d) are stored again as the same
// chunks, because a full ingest also cuts at the edges of large files.
// Content alone cannot: each 100-250 KiB file shares its chunks with its
// neighbours, which changed.
func TestMovedFilesDedup(t *testing.T) {
	testenv.NeedTools(t, "mke2fs")
	dir := t.TempDir()
	var imgs []string
	var fileBytes int64
	for version := 1; version <= 2; version++ {
		tree := filepath.Join(dir, fmt.Sprint("tree", version))
		os.MkdirAll(tree, 0o755)
		rng := rand.New(rand.NewPCG(7, 0))
		for i := range 20 {
			b := make([]byte, 100<<10+rng.IntN(150<<10))
			rand.NewChaCha8([32]byte{byte(i)}).Read(b)
			if version == 2 && (i == 3 || i == 11) {
				continue
			}
			if version == 1 {
				fileBytes += int64(len(b))
			}
			if err := os.WriteFile(filepath.Join(tree, fmt.Sprintf("f%02d", i)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		img := filepath.Join(dir, fmt.Sprint("v", version, ".img"))
		sh(t, "mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-d", tree, img, "24M")
		imgs = append(imgs, img)
	}
	repo := newRepo(t) // 256 KiB average: files of 64 KiB and more get boundaries
	var stored []int64
	for i, img := range imgs {
		var m catalog.Manifest
		out := mustRun(t, repo, "ingest", "--json", "--vm", "web01", "--point-time", fmt.Sprintf("2026-11-2%dT01:00:00Z", i), "disk0="+img)
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("ingest --json: %v\n%s", err, out)
		}
		stored = append(stored, m.Disks[0].Stats.NewBytes)
	}
	t.Logf("files %d KiB; first point stored %d KiB, second %d KiB", fileBytes>>10, stored[0]>>10, stored[1]>>10)
	if stored[0] < fileBytes {
		t.Fatalf("first point stored %d bytes, less than its %d bytes of random files", stored[0], fileBytes)
	}
	if stored[1] > fileBytes/16 {
		t.Errorf("second point stored %d bytes: its moved files (%d bytes) were not found again", stored[1], fileBytes)
	}
	if got := catDisk(t, repo, "web01", "2026-11-21T01:00:00Z", "disk0"); !bytes.Equal(got, readFile(t, imgs[1])) {
		t.Error("second point does not read back byte for byte")
	}

	// An encrypted copy cuts the points again (keyed chunker) and keeps
	// the files' boundaries: the second point sends as little.
	enc := filepath.Join(t.TempDir(), "enc")
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("moved-files-test\n"), 0o600)
	mustRun(t, repo, "init", "--repo", enc, "--encrypt", "--chunk-size", "256KiB", "--password-file", pw)
	var st struct {
		Copied []struct {
			Recut     bool  `json:"recut"`
			BytesSent int64 `json:"bytes_sent"`
		} `json:"copied"`
	}
	out := mustRun(t, repo, "copy", "--json", "--from", repo, "--to", enc, "--to-password-file", pw)
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Copied) != 2 || !st.Copied[1].Recut {
		t.Fatalf("copy --json: %v\n%s", err, out)
	}
	if sent := st.Copied[1].BytesSent; sent > fileBytes/16 {
		t.Errorf("the encrypted copy of the second point sent %d bytes: the moved files were cut anew", sent)
	}
}
