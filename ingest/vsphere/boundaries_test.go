package vsphere

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// fsDiskStart is where fileDisk's ext4 partition starts.
const fsDiskStart = 1 << 20

// fileDisk writes a 20 MiB GPT disk to out whose one partition holds an
// ext4 filesystem (mke2fs -d) with a few small files and big.bin, 2 MiB
// of seeded random data. It returns the disk offsets where big.bin's
// extents start and end, as debugfs lists them.
func fileDisk(t *testing.T, out string) []int64 {
	t.Helper()
	testenv.NeedTools(t, "mke2fs", "debugfs", "sgdisk")
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	big := make([]byte, 2<<20)
	rand.NewChaCha8([32]byte{3}).Read(big)
	files := map[string][]byte{"etc/hostname": []byte("db07\n"), "notes.txt": bytes.Repeat([]byte("note "), 30000), "big.bin": big}
	for name, b := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fs := filepath.Join(dir, "fs.img")
	run(t, "mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-d", root, fs, "16M")
	run(t, "truncate", "-s", "20M", out)
	run(t, "sgdisk", "-o", "-n", "1:2048:+16M", out)
	run(t, "dd", "if="+fs, "of="+out, "bs=1M", "seek=1", "conv=notrunc", "status=none")
	return extentEdges(t, run(t, "debugfs", "-R", "stat /big.bin", fs))
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	b, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, b)
	}
	return string(b)
}

// extentEdges reads debugfs's EXTENTS list ("(0-511):1234-1745, ...") as
// the disk offsets where each extent starts and ends.
func extentEdges(t *testing.T, stat string) []int64 {
	t.Helper()
	_, list, ok := strings.Cut(stat, "EXTENTS:")
	if !ok {
		t.Fatalf("debugfs shows no extents:\n%s", stat)
	}
	var edges []int64
	for _, m := range regexp.MustCompile(`\(\d+(?:-\d+)?\):(\d+)(?:-(\d+))?`).FindAllStringSubmatch(list, -1) {
		lo, _ := strconv.ParseInt(m[1], 10, 64)
		hi := lo
		if m[2] != "" {
			hi, _ = strconv.ParseInt(m[2], 10, 64)
		}
		edges = append(edges, fsDiskStart+lo*4096, fsDiskStart+(hi+1)*4096)
	}
	if len(edges) == 0 {
		t.Fatalf("no extents in %q", list)
	}
	return edges
}

// chunkEnds returns the offsets where the chunks of a point's disk end.
func chunkEnds(t *testing.T, repo *catalog.Repo, m *catalog.Manifest, disk string) map[int64]bool {
	t.Helper()
	d, err := repo.OpenDisk(context.Background(), m, disk)
	if err != nil {
		t.Fatal(err)
	}
	ends := map[int64]bool{}
	err = d.Map().Extents(context.Background(), 0, d.Size(), func(e catalog.Extent) error {
		ends[e.End()] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ends
}

// TestFullIngestCutsAtFileEdges: a full vSphere ingest of a disk holding
// ext4 ends chunks where a large file's data starts and ends (debugfs's
// extents), which content alone does not, and stores the disk byte for
// byte. A walk that cannot read the disk is logged and the ingest goes on.
func TestFullIngestCutsAtFileEdges(t *testing.T) {
	img := filepath.Join(t.TempDir(), "web01.raw")
	edges := fileDisk(t, img)
	raw := mustRead(t, img)
	repo := catalog.TestRepo(t)

	// Without boundaries (an ingest of the same bytes from the image file),
	// chunks do not end at every edge: the test could fail.
	d, err := image.OpenAs(img, "raw")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	m0, err := ingest.Ingest(context.Background(), repo, ingest.Options{VM: "plain", Time: time.Unix(1e9, 0)}, []ingest.DiskSpec{{Name: "d", Disk: d}})
	if err != nil {
		t.Fatal(err)
	}
	plain := chunkEnds(t, repo, m0, "d")
	if all := allIn(edges, plain); all {
		t.Fatalf("content alone ends chunks at every edge of big.bin %v: the test proves nothing", edges)
	}

	s := newSim(t, img, false)
	c := s.connect(t)
	var log logRecorder
	opts := Options{Log: log.logf, Clock: clock(), Walk: testWalk}
	r := c.Backup(context.Background(), repo, findWeb01(t, c), opts)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if got := readBack(t, repo, r.Manifest, "scsi0-0"); !bytes.Equal(got, raw) {
		t.Fatal("point differs from the disk")
	}
	ends := chunkEnds(t, repo, r.Manifest, "scsi0-0")
	for _, e := range edges {
		if !ends[e] {
			t.Errorf("no chunk ends at %d, an edge of big.bin's data", e)
		}
	}
	t.Logf("walk: %d reads, %d bytes; %d requests, %d bytes over HTTP for the %d-byte disk", r.Walk.Requests, r.Walk.Bytes, s.gets.Load(), s.served.Load(), s.size)
	if r.Walk.Requests == 0 || r.Walk.Requests > 16 || r.Walk.Bytes > 2<<20 {
		t.Errorf("walk: %d reads of %d bytes, want a few (a block cache in front)", r.Walk.Requests, r.Walk.Bytes)
	}
	if strings.Contains(log.all(), "file boundaries") {
		t.Errorf("a clean walk logged: %s", log.all())
	}

	// Reads smaller than a read-ahead window (the walk's) refused: the
	// point is still made, without the boundaries, and the log says so.
	s.mu.Lock()
	s.gate = func(r *http.Request) int {
		if a, b, ok := strings.Cut(strings.TrimPrefix(r.Header.Get("Range"), "bytes="), "-"); ok {
			lo, _ := strconv.ParseInt(a, 10, 64)
			hi, _ := strconv.ParseInt(b, 10, 64)
			if hi-lo < 1<<20 {
				return http.StatusForbidden
			}
		}
		return 0
	}
	s.mu.Unlock()
	r = c.Backup(context.Background(), repo, findWeb01(t, c), opts)
	if r.Err != nil {
		t.Fatalf("a failed walk failed the ingest: %v", r.Err)
	}
	if got := readBack(t, repo, r.Manifest, "scsi0-0"); !bytes.Equal(got, raw) {
		t.Fatal("point made without boundaries differs from the disk")
	}
	if !strings.Contains(log.all(), "file boundaries went past 1 errors") || !strings.Contains(log.all(), "cut by content only") {
		t.Errorf("failed walk not logged: %s", log.all())
	}
	t.Log(log.all())
	checkNoSecret(t, repo, log.all())
}

func allIn(edges []int64, ends map[int64]bool) bool {
	for _, e := range edges {
		if !ends[e] {
			return false
		}
	}
	return true
}
