package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestRetentionCommands: stats says what forgetting the middle point frees,
// forget removes it, gc frees exactly that, and check passes until a chunk
// goes missing, then names the point.
func TestRetentionCommands(t *testing.T) {
	v1, v2 := demoDisks(t)
	repo := newRepo(t)
	times := []string{"2026-11-18T01:00:00Z", "2026-11-19T01:00:00Z", "2026-11-20T01:00:00Z"}
	for i, img := range []string{v1, v2, v1} {
		mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", times[i], "disk0="+img)
	}
	var st struct {
		Stored    int64 `json:"stored_bytes"`
		PointList []struct {
			Point string `json:"point"`
			Frees int64  `json:"frees_bytes"`
		} `json:"point_list"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, repo, "stats", "--json")), &st); err != nil || len(st.PointList) != 3 {
		t.Fatalf("stats --json: %v %+v", err, st)
	}
	frees := st.PointList[1].Frees
	if st.PointList[1].Point != times[1] || frees == 0 {
		t.Fatalf("stats of the v2 point: %+v", st.PointList[1])
	}

	// --keep-last 2 keeps the two newest; --dry-run changes nothing.
	out := mustRun(t, repo, "forget", "--vm", "web01", "--keep-last", "2", "--dry-run")
	if !strings.Contains(out, "remove  "+times[0]) || !strings.Contains(out, "keep    "+times[2]+"  last #1") {
		t.Fatalf("forget --dry-run:\n%s", out)
	}
	if pts := mustRun(t, repo, "points"); strings.Count(pts, "web01") != 3 {
		t.Fatalf("dry run removed points:\n%s", pts)
	}
	mustRun(t, repo, "forget", "--vm", "web01", "--point", times[1])
	if pts := mustRun(t, repo, "points"); strings.Contains(pts, times[1]) {
		t.Fatalf("point still listed:\n%s", pts)
	}
	before := dirBytes(t, filepath.Join(repo, "store", "data"))
	var gc struct {
		Deleted int64 `json:"deleted_bytes"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, repo, "gc", "--json")), &gc); err != nil {
		t.Fatal(err)
	}
	after := dirBytes(t, filepath.Join(repo, "store", "data"))
	if gc.Deleted != frees || before-after != frees {
		t.Fatalf("stats promised %d bytes, gc reports %d, the store shrank by %d", frees, gc.Deleted, before-after)
	}
	if !bytes.Equal(catDisk(t, repo, "web01", times[2], "disk0"), readFile(t, v1)) {
		t.Fatal("the kept point reads back wrong after gc")
	}
	if out := mustRun(t, repo, "check", "--read-data"); !strings.Contains(out, "0 problems, 0 manifest") {
		t.Fatalf("check:\n%s", out)
	}

	// Remove one object the newest point uses: check names the point.
	var victim string
	filepath.WalkDir(filepath.Join(repo, "store", "data"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && victim == "" {
			victim = p
		}
		return nil
	})
	os.Remove(victim)
	r := run(t, repo, nil, "check")
	if r.code != 1 || !strings.Contains(r.stdout, "missing object "+filepath.Base(victim)) || !strings.Contains(r.stdout, "used by web01/") {
		t.Fatalf("check after removing %s: exit %d\n%s%s", victim, r.code, r.stdout, r.stderr)
	}
}

func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestGCWhileMounted mounts the repository and, while files are read
// through the mount, runs ingests and forget + gc through the CLI (all
// forwarded into the mount process). Afterwards every point left must
// pass check --read-data and read back byte for byte.
func TestGCWhileMounted(t *testing.T) {
	testenv.NeedFUSE(t)
	v1, v2 := demoDisks(t)
	repo := newRepo(t)
	mnt := t.TempDir()
	mount := exec.Command(vmarchiveBin(t), "mount", mnt)
	mount.Env = append(os.Environ(), "VMARCHIVE_REPO="+repo)
	var mlog lockedBuffer // written by the output copier while the test reads it
	mount.Stderr = &mlog
	if err := mount.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mount.Process.Signal(syscall.SIGTERM)
		mount.Wait()
	})
	for i := 0; ; i++ {
		if _, err := os.Stat(catalog.ControlPath(repo)); err == nil && strings.Contains(mlog.String(), "mounted") {
			break
		}
		if i > 200 {
			t.Fatalf("mount did not come up:\n%s", mlog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	images := []string{v1, v2}
	t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	name := func(k int) string { return t0.Add(time.Duration(k) * time.Hour).Format(time.RFC3339) }
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", name(0), "disk0="+v1)

	errs := make(chan string, 100)
	report := func(format string, a ...any) {
		select {
		case errs <- fmt.Sprintf(format, a...):
		default:
		}
	}
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(2)
	gcRuns, reads := 0, 0
	go func() { // forget all but the two newest points, then collect
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if r := run(t, repo, nil, "forget", "--vm", "web01", "--keep-last", "2"); r.code != 0 {
				report("forget: %s", r.stderr)
			}
			if r := run(t, repo, nil, "gc"); r.code != 0 {
				report("gc: %s", r.stderr)
			}
			gcRuns++
		}
	}()
	go func() { // read the newest point's photo through the mount
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			point, err := os.Readlink(filepath.Join(mnt, "web01", "latest"))
			if err != nil {
				continue
			}
			f, err := os.Open(filepath.Join(mnt, "web01", point, "disk0", "p2", "home", "ann", "Documents", "photo.bin"))
			if err == nil {
				_, err = io.Copy(io.Discard, f)
				f.Close()
			}
			if err == nil {
				reads++
			}
			if err != nil {
				// Only a point forgotten meanwhile may fail.
				if _, serr := os.Stat(filepath.Join(mnt, "web01", point)); serr == nil {
					report("read %s while listed: %v", point, err)
				}
			}
		}
	}()
	for k := 1; k <= 5; k++ {
		mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", name(k), "disk0="+images[k%2])
	}
	close(stop)
	bg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if gcRuns < 2 || reads < 2 {
		t.Fatalf("during the ingests gc ran %d times and the mount read %d files", gcRuns, reads)
	}
	mustRun(t, repo, "forget", "--vm", "web01", "--keep-last", "2")
	mustRun(t, repo, "gc")
	if out := mustRun(t, repo, "check", "--read-data"); !strings.Contains(out, "0 problems, 0 manifest") || !strings.Contains(out, "data: read") {
		t.Fatalf("check:\n%s", out)
	}
	pts := mustRun(t, repo, "points")
	for k := 4; k <= 5; k++ {
		if !strings.Contains(pts, name(k)) {
			t.Fatalf("point %s missing:\n%s", name(k), pts)
		}
		if !bytes.Equal(catDisk(t, repo, "web01", name(k), "disk0"), readFile(t, images[k%2])) {
			t.Fatalf("point %s reads back wrong", name(k))
		}
	}
	t.Logf("%d gc runs and %d file reads through the mount during 5 ingests", gcRuns, reads)
}

// TestCheckNamesAffectedFiles removes the chunk in the middle of a guest
// file and compares the files check names with what debugfs (icheck +
// ncheck) says owns the blocks of that chunk.
func TestCheckNamesAffectedFiles(t *testing.T) {
	testenv.NeedTools(t, "debugfs", "dumpe2fs")
	v1, _ := demoDisks(t)
	repo := newRepo(t)
	const pt = "2026-11-20T01:00:00Z"
	mustRun(t, repo, "ingest", "--vm", "web01", "--point-time", pt, "disk0="+v1)

	// The ext4 partition, cut out for debugfs.
	out, err := exec.Command("sgdisk", "-i", "2", v1).Output()
	if err != nil {
		t.Fatal(err)
	}
	var start int64
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "First sector:") {
			fmt.Sscan(strings.Fields(l)[2], &start)
		}
	}
	start *= 512
	img := readFile(t, v1)
	p2 := filepath.Join(t.TempDir(), "p2.img")
	os.WriteFile(p2, img[start:], 0o600)
	debugfs := func(req string) string {
		out, err := exec.Command("debugfs", "-R", req, p2).Output()
		if err != nil {
			t.Fatalf("debugfs %s: %v", req, err)
		}
		return string(out)
	}
	out, _ = exec.Command("dumpe2fs", "-h", p2).Output()
	var bs int64
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Block size:") {
			fmt.Sscan(strings.Fields(l)[2], &bs)
		}
	}
	blocks := strings.Fields(debugfs("blocks /home/ann/Documents/photo.bin"))
	if bs == 0 || len(blocks) < 100 {
		t.Fatalf("block size %d, photo blocks %d", bs, len(blocks))
	}
	var mid int64
	fmt.Sscan(blocks[len(blocks)/2], &mid)
	// The chunk holding photo.bin's middle block (chunks are cut by
	// content: ask the map where it begins and ends).
	r, err := catalog.Open(context.Background(), repo, catalog.Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := r.Point("web01", pt)
	dr, err := r.OpenDisk(context.Background(), p, "disk0")
	if err != nil {
		t.Fatal(err)
	}
	ext, err := dr.Map().Lookup(context.Background(), start+mid*bs)
	r.Close()
	if err != nil || ext.ID.IsZero() {
		t.Fatalf("chunk at %d: %v %v", start+mid*bs, ext, err)
	}
	chunkOff, cs := ext.Off, ext.Len

	// The oracle: inodes owning the blocks of that chunk, and their paths.
	var req []string
	for b := (chunkOff - start) / bs; b < (chunkOff+cs-start)/bs; b++ {
		req = append(req, fmt.Sprint(b))
	}
	inodes := map[string]bool{}
	for _, l := range strings.Split(debugfs("icheck "+strings.Join(req, " ")), "\n")[1:] {
		if f := strings.Fields(l); len(f) == 2 && f[1] != "<block" {
			inodes[f[1]] = true
		}
	}
	var want []string
	var ino []string
	for i := range inodes {
		ino = append(ino, i)
	}
	for _, l := range strings.Split(debugfs("ncheck "+strings.Join(ino, " ")), "\n")[1:] {
		if f := strings.Fields(l); len(f) == 2 {
			want = append(want, "p2"+f[1])
		}
	}
	sort.Strings(want)
	if len(want) == 0 {
		t.Fatal("debugfs found no owner of the chunk")
	}

	// Remove that chunk from the store.
	id := ext.ID
	os.Remove(filepath.Join(repo, "store", id.ObjectName()))

	res := run(t, repo, nil, "check")
	var got []string
	for _, l := range strings.Split(res.stdout, "\n") {
		if f, ok := strings.CutPrefix(l, "affected file: web01/"+pt+" disk disk0: "); ok {
			q, err := strconv.Unquote(f)
			if err != nil {
				t.Fatalf("%q: not quoted: %v", l, err)
			}
			got = append(got, q)
		}
	}
	t.Logf("check names %v, debugfs %v", got, want)
	if res.code != 1 || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("check exit %d names %v; debugfs says the chunk at %d holds %v\n%s", res.code, got, chunkOff, want, res.stdout)
	}
}
