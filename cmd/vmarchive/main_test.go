package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/control"
	"github.com/vmarchive/vmarchive/internal/testenv"
	"github.com/vmarchive/vmarchive/service/testrestore"
)

// These tests drive the real binary, as a user would.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func vmarchiveBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vmarchive-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "vmarchive")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs vmarchive with args against repo.
func run(t *testing.T, repo string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(vmarchiveBin(t), args...)
	cmd.Env = append(append(os.Environ(), "VMARCHIVE_REPO="+repo, "HOME="+t.TempDir()), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func mustRun(t *testing.T, repo string, args ...string) string {
	t.Helper()
	r := run(t, repo, nil, args...)
	if r.code != 0 {
		t.Fatalf("vmarchive %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func sh(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// demoDisks builds two versions of the demo disk (GPT, FAT32 ESP, ext4 root).
func demoDisks(t *testing.T) (v1, v2 string) {
	t.Helper()
	testenv.NeedTools(t, "sgdisk", "mkfs.fat", "mcopy", "mke2fs")
	dir := t.TempDir()
	v1, v2 = filepath.Join(dir, "v1.raw"), filepath.Join(dir, "v2.raw")
	script := filepath.Join(repoRoot(t), "testimages", "demo-disk.sh")
	sh(t, "bash", script, v1, "1")
	sh(t, "bash", script, v2, "2")
	return v1, v2
}

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func newRepo(t *testing.T) string {
	repo := filepath.Join(t.TempDir(), "repo")
	mustRun(t, repo, "init", "--chunk-size", "256KiB")
	return repo
}

func catDisk(t *testing.T, repo, vm, point, disk string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.raw")
	mustRun(t, repo, "cat", "--vm", vm, "--point", point, "--disk", disk, "-o", out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readFile(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFormatsByteExact ingests the demo disk converted by qemu-img into
// every format it writes and checks cat against qemu-img's own raw output.
func TestFormatsByteExact(t *testing.T) {
	testenv.NeedTools(t, "qemu-img")
	v1, _ := demoDisks(t)
	repo := newRepo(t)
	dir := t.TempDir()
	formats := []struct{ name, fmt, opts string }{
		{"raw", "raw", ""},
		{"qcow2v2", "qcow2", "compat=0.10"},
		{"qcow2v3", "qcow2", "compat=1.1"},
		{"qcow2c", "qcow2", "compat=1.1"},
		{"monolithicSparse", "vmdk", "subformat=monolithicSparse"},
		{"streamOptimized", "vmdk", "subformat=streamOptimized"},
		{"monolithicFlat", "vmdk", "subformat=monolithicFlat"},
		{"twoGbMaxExtentSparse", "vmdk", "subformat=twoGbMaxExtentSparse"},
		{"twoGbMaxExtentFlat", "vmdk", "subformat=twoGbMaxExtentFlat"},
		// force_size keeps the exact size (not rounded to a CHS geometry),
		// so these points share the others' map.
		{"vhdFixed", "vpc", "subformat=fixed,force_size=on"},
		{"vhdDynamic", "vpc", "subformat=dynamic,force_size=on"},
		{"vhdxFixed", "vhdx", "subformat=fixed"},
		{"vhdxDynamic", "vhdx", "subformat=dynamic"},
	}
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			img := filepath.Join(dir, f.name+"."+f.fmt)
			args := []string{"convert", "-f", "raw", "-O", f.fmt}
			if f.opts != "" {
				args = append(args, "-o", f.opts)
			}
			if f.name == "qcow2c" {
				args = append(args, "-c")
			}
			sh(t, "qemu-img", append(args, v1, img)...)
			want := filepath.Join(dir, f.name+".want")
			sh(t, "qemu-img", "convert", "-f", f.fmt, "-O", "raw", img, want) // -f: qemu-img probes a fixed VHD as raw
			point := base.Add(time.Duration(i) * time.Hour).Format(time.RFC3339)
			mustRun(t, repo, "ingest", "--vm", "fmt", "--point-time", point, "disk0="+img)
			if got := catDisk(t, repo, "fmt", point, "disk0"); !bytes.Equal(got, readFile(t, want)) {
				t.Fatalf("cat of %s differs from qemu-img convert -O raw", f.name)
			}
		})
	}
	// Every format holds the same disk: all points share every data chunk.
	var pts []catalog.Manifest
	json.Unmarshal([]byte(mustRun(t, repo, "points", "--json")), &pts)
	if len(pts) != len(formats) {
		t.Fatalf("%d points, want %d", len(pts), len(formats))
	}
	for _, p := range pts[1:] {
		if p.Disks[0].Map != pts[0].Disks[0].Map || p.Disks[0].Stats.NewChunks != 0 {
			t.Errorf("point %s: map %s, %d new chunks; want the first point's map and none", p.Name(), p.Disks[0].Map, p.Disks[0].Stats.NewChunks)
		}
	}
}

// TestChangedAreas ingests v2 reading only the areas that differ from v1.
func TestChangedAreas(t *testing.T) {
	v1, v2 := demoDisks(t)
	repo := newRepo(t)
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", "2026-11-20T01:00:00Z", "disk0="+v1)
	a, b := readFile(t, v1), readFile(t, v2)
	// The changed areas at 4 KiB granularity, as CBT would report them.
	var list strings.Builder
	changed := int64(0)
	for off := 0; off < len(a); off += 4096 {
		if !bytes.Equal(a[off:off+4096], b[off:off+4096]) {
			fmt.Fprintf(&list, "%d 4096\n", off)
			changed += 4096
		}
	}
	cbt := filepath.Join(t.TempDir(), "cbt.txt")
	os.WriteFile(cbt, []byte(list.String()), 0o600)
	out := mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", "2026-11-21T01:00:00Z", "--json", "--changed", cbt, "disk0="+v2)
	var m catalog.Manifest
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	if got := catDisk(t, repo, "web01", "latest", "disk0"); !bytes.Equal(got, b) {
		t.Fatal("point ingested with --changed does not read back as v2")
	}
	if got := catDisk(t, repo, "web01", "2026-11-20T01:00:00Z", "disk0"); !bytes.Equal(got, a) {
		t.Fatal("first point changed")
	}
	// A local image is read where chunks are cut again: the changed
	// areas and the rest of the old chunks around them, not the disk.
	s := m.Disks[0].Stats
	if s.ReadBytes < changed || s.ReadBytes > changed+int64(len(a))/8 {
		t.Fatalf("read %d bytes from the image (of %d) for %d changed", s.ReadBytes, len(a), changed)
	}
	t.Logf("changed %d bytes, read %d, reused %d", changed, s.ReadBytes, s.ReusedBytes)

	// Bad lists are refused with a clear message.
	os.WriteFile(cbt, []byte("0 99999999999\n"), 0o600)
	r := run(t, repo, nil, "ingest", "--vm", "web01", "--changed", cbt, "disk0="+v2)
	if r.code != 2 || !strings.Contains(r.stderr, "outside the disk") {
		t.Fatalf("out-of-range list: exit %d, %s", r.code, r.stderr)
	}
	r = run(t, repo, nil, "ingest", "--vm", "newvm", "--changed", cbt+".none", "disk0="+v2)
	if r.code != 2 || !strings.Contains(r.stderr, "no such file") {
		t.Fatalf("missing list: exit %d, %s", r.code, r.stderr)
	}
}

// TestVerifyAndRebuild damages the store, then loses the catalog.
func TestVerifyAndRebuild(t *testing.T) {
	v1, v2 := demoDisks(t)
	repo := newRepo(t)
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", "2026-11-20T01:00:00Z", "disk0="+v1)
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", "2026-11-21T01:00:00Z", "disk0="+v2, "disk1="+v1)
	before := mustRun(t, repo, "points", "--json")
	if out := mustRun(t, repo, "verify"); !strings.Contains(out, "0 problems") {
		t.Fatalf("verify of a healthy repo: %s", out)
	}

	// Lose the catalog; rebuild from the store alone.
	os.RemoveAll(filepath.Join(repo, "catalog"))
	if r := run(t, repo, nil, "points"); r.code != 2 || !strings.Contains(r.stderr, "catalog rebuild") {
		t.Fatalf("points without catalog: exit %d: %s", r.code, r.stderr)
	}
	mustRun(t, repo, "catalog", "rebuild")
	if after := mustRun(t, repo, "points", "--json"); after != before {
		t.Fatalf("points after rebuild differ:\n%s\nvs\n%s", after, before)
	}
	if !bytes.Equal(catDisk(t, repo, "web01", "latest", "disk0"), readFile(t, v2)) ||
		!bytes.Equal(catDisk(t, repo, "web01", "2026-11-20T01:00:00Z", "disk0"), readFile(t, v1)) {
		t.Fatal("disks differ after rebuild")
	}

	// Flip a byte in one data chunk and delete another. Map blocks are
	// stored under data/ too; one of them lost would hide the chunks it
	// maps, so only the maps' leaves are picked.
	leaves := map[string]bool{}
	for id := range dataChunks(t, repo) {
		leaves[path.Base(id.ObjectName())] = true
	}
	var chunks []string
	filepath.Walk(filepath.Join(repo, "store", "data"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && fi.Size() > 1000 && leaves[fi.Name()] {
			chunks = append(chunks, p)
		}
		return nil
	})
	if len(chunks) < 2 {
		t.Fatalf("only %d chunks in store", len(chunks))
	}
	flip := chunks[0]
	b := readFile(t, flip)
	b[len(b)-1] ^= 1
	os.WriteFile(flip, b, 0o600)
	os.Remove(chunks[1])
	r := run(t, repo, nil, "verify")
	if r.code != 1 {
		t.Fatalf("verify of damaged repo: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"damaged chunk " + filepath.Base(flip), "missing chunk " + filepath.Base(chunks[1]), "used by web01/", "at offset ", "2 problems"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("verify output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestSecondProcessGetsClearMessage holds the repository in this process
// and runs the CLI against it.
func TestSecondProcessGetsClearMessage(t *testing.T) {
	repo := newRepo(t)
	r, err := catalog.Open(context.Background(), repo, catalog.Options{Command: "vmarchive mount /mnt/x"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res := run(t, repo, nil, "points")
	if res.code != 2 || !strings.Contains(res.stderr, "held by another process") || !strings.Contains(res.stderr, fmt.Sprintf("pid %d", os.Getpid())) || !strings.Contains(res.stderr, "vmarchive mount /mnt/x") {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	fromFile, fromEnv, fromFlag := filepath.Join(dir, "file"), filepath.Join(dir, "env"), filepath.Join(dir, "flag")
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte("repo: "+fromFile+"\n"), 0o600)
	bin := vmarchiveBin(t)
	runEnv := func(env []string, args ...string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), append([]string{"HOME=" + dir, "VMARCHIVE_REPO="}, env...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	runEnv(nil, "init", "--config", cfg)
	runEnv([]string{"VMARCHIVE_REPO=" + fromEnv}, "init", "--config", cfg)
	runEnv([]string{"VMARCHIVE_REPO=" + fromEnv}, "init", "--config", cfg, "--repo", fromFlag)
	// The default config file location is read too.
	os.MkdirAll(filepath.Join(dir, ".config", "vmarchive"), 0o700)
	os.WriteFile(filepath.Join(dir, ".config", "vmarchive", "config.yaml"), []byte("repo: "+fromFile+"\n"), 0o600)
	runEnv(nil, "points")
	for _, d := range []string{fromFile, fromEnv, fromFlag} {
		if _, err := os.Stat(filepath.Join(d, "store", "config")); err != nil {
			t.Errorf("no repository at %s: %v", d, err)
		}
	}
	res := run(t, "", []string{"VMARCHIVE_REPO="}, "points")
	if res.code != 2 || !strings.Contains(res.stderr, "no repository") {
		t.Fatalf("no repo: exit %d %s", res.code, res.stderr)
	}
}

// TestCrashSafety kills a real ingest at each moment of its commit and at
// timed moments of its data phase; each time the repository must show no
// partial point, verify clean, and a re-run must succeed.
func TestCrashSafety(t *testing.T) {
	v1, _ := demoDisks(t)
	repo := newRepo(t)
	mustRun(t, repo, "ingest", "--vm", "base", "--point-time", "2026-11-19T00:00:00Z", "disk0="+v1)
	moments := []string{"chunks-durable", "manifest-durable", "committed", "after 20ms", "after 60ms", "after 150ms"}
	for i, moment := range moments {
		point := fmt.Sprintf("2026-11-20T%02d:00:00Z", i)
		cmd := exec.Command(vmarchiveBin(t), "ingest", "--vm", "crash", "--point-time", point, "disk0="+v1, "disk1="+v1)
		cmd.Env = append(os.Environ(), "VMARCHIVE_REPO="+repo)
		if cp, ok := strings.CutPrefix(moment, "after "); ok {
			d, _ := time.ParseDuration(cp)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(d)
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
		} else {
			cmd.Env = append(cmd.Env, "VMARCHIVE_CRASHPOINT="+moment)
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("%s: ingest was not killed: %v", moment, err)
			}
		}
		var pts []catalog.Manifest
		json.Unmarshal([]byte(mustRun(t, repo, "points", "--vm", "crash", "--json")), &pts)
		committed := len(pts) == 1
		if moment == "committed" && !committed {
			t.Fatalf("%s: point missing after the catalog batch was synced", moment)
		}
		if !strings.HasPrefix(moment, "after") && moment != "committed" && len(pts) != 0 {
			t.Fatalf("%s: partial point visible: %+v", moment, pts)
		}
		if out := mustRun(t, repo, "verify"); !strings.Contains(out, "0 problems") {
			t.Fatalf("%s: verify: %s", moment, out)
		}
		if !committed {
			mustRun(t, repo, "ingest", "--vm", "crash", "--point-time", point, "disk0="+v1, "disk1="+v1)
		}
		if !bytes.Equal(catDisk(t, repo, "crash", point, "disk1"), readFile(t, v1)) {
			t.Fatalf("%s: point reads back wrong after re-run", moment)
		}
		mustRunForget(t, repo, point)
	}
}

// mustRunForget removes the crash VM's point by rebuilding without it, so
// the next moment starts from the same state.
func mustRunForget(t *testing.T, repo, point string) {
	t.Helper()
	os.Remove(filepath.Join(repo, "store", "points", "crash", point))
	os.RemoveAll(filepath.Join(repo, "catalog"))
	mustRun(t, repo, "catalog", "rebuild")
}

func TestBadInput(t *testing.T) {
	repo := newRepo(t)
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.vmdk")
	os.WriteFile(junk, []byte("KDMV\x01\x00\x00\x00garbage"), 0o600)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ingest", "--vm", "x", "disk0=" + filepath.Join(dir, "absent.raw")}, "no such file"},
		{[]string{"ingest", "--vm", "x", "disk0=" + junk}, "disk0"},
		{[]string{"ingest", "--vm", "bad/name", "disk0=" + junk}, "VM name"},
		{[]string{"ingest", "--vm", "x", "nodisk"}, "NAME=PATH"},
		{[]string{"ingest", "--vm", "x", "--point-time", "yesterday", "d=" + junk}, "RFC 3339"},
		{[]string{"cat", "--vm", "none", "--disk", "d", "-o", filepath.Join(dir, "o")}, "no points"},
		{[]string{"init", "--chunk-size", "3MiB"}, "power of two"},
	} {
		r := run(t, repo, nil, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
	if r := run(t, repo, nil, "init"); r.code != 2 || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("init over a repository: exit %d %s", r.code, r.stderr)
	}
}

// TestCommandsGoThroughHolder holds the repository in this process, serving
// the control socket as a mount would, and runs the real CLI against it:
// ingest, points, cat and verify all run inside the holder.
// holdRepo opens repo in this process and serves its control socket, as a
// mount does, until the test ends.
func holdRepo(t *testing.T, repo string) *catalog.Repo {
	t.Helper()
	return holdRepoLog(t, repo, io.Discard)
}

// holdRepoLog is holdRepo with the holder's log (refusals) going to w.
func holdRepoLog(t *testing.T, repo string, w io.Writer) *catalog.Repo {
	t.Helper()
	r, err := catalog.Open(context.Background(), repo, catalog.Options{Command: "test holder"})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := control.Listen(catalog.ControlPath(repo), serveHeld(r), log.New(w, "", 0))
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

func TestCommandsGoThroughHolder(t *testing.T) {
	v1, _ := demoDisks(t)
	repo := newRepo(t)
	r := holdRepo(t, repo)

	// Relative paths are resolved in the client's directory.
	dir := filepath.Dir(v1)
	cmd := exec.Command(vmarchiveBin(t), "ingest", "--vm", "web01", "--point-time", "2026-11-20T01:00:00Z", "disk0="+filepath.Base(v1))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "VMARCHIVE_REPO="+repo)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "point web01/2026-11-20T01:00:00Z created") {
		t.Fatalf("forwarded ingest: %v\n%s", err, out)
	}
	// The holder sees the new point at once.
	if p, err := r.Point("web01", "latest"); err != nil || p.Name() != "2026-11-20T01:00:00Z" {
		t.Fatalf("holder does not see the point: %v", err)
	}
	if out := mustRun(t, repo, "points"); !strings.Contains(out, "web01") {
		t.Fatalf("forwarded points: %s", out)
	}
	// cat to stdout streams the disk through the socket.
	c := exec.Command(vmarchiveBin(t), "cat", "--vm", "web01", "--disk", "disk0")
	c.Env = append(os.Environ(), "VMARCHIVE_REPO="+repo)
	got, err := c.Output()
	if err != nil || !bytes.Equal(got, readFile(t, v1)) {
		t.Fatalf("forwarded cat: %v, %d bytes", err, len(got))
	}
	if out := mustRun(t, repo, "verify"); !strings.Contains(out, "0 problems") {
		t.Fatalf("forwarded verify: %s", out)
	}
	if out := mustRun(t, repo, "test-restore", "--vm", "web01"); !strings.HasSuffix(strings.TrimSpace(out), ": ok") {
		t.Fatalf("forwarded test-restore: %s", out)
	}
	if res, err := testrestore.Load(r, catalog.NewPointID("web01", time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC))); err != nil || res == nil || !res.OK {
		t.Fatalf("the holder has no test restore result: %+v, %v", res, err)
	}
	// Arguments that are not paths stay as they are, even when run in a
	// directory where they would name a file; exit status 1 comes back.
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", "2026-11-21T01:00:00Z", "disk0="+v1)
	d := exec.Command(vmarchiveBin(t), "diff", "web01", "latest")
	d.Dir = t.TempDir()
	os.WriteFile(filepath.Join(d.Dir, "latest"), nil, 0o644)
	d.Env = append(os.Environ(), "VMARCHIVE_REPO="+repo)
	if out, err := d.CombinedOutput(); d.ProcessState.ExitCode() != 0 || !strings.Contains(string(out), "# disk0: 0 B changed") {
		t.Fatalf("forwarded diff: %v\n%s", err, out)
	}
	// Errors keep their exit status and message.
	res := run(t, repo, nil, "cat", "--vm", "nope", "--disk", "d", "-o", filepath.Join(t.TempDir(), "x"))
	if res.code != 2 || !strings.Contains(res.stderr, "VM nope has no points") {
		t.Fatalf("forwarded error: %d %q", res.code, res.stderr)
	}
}
