package testrestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
	"github.com/vmarchive/vmarchive/index"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

var t0 = time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)

// images are the disks built so far, by version, shared by the tests
// (which never change them) and removed by TestMain.
var images struct {
	sync.Mutex
	dir  string
	made map[int][2]string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if images.dir != "" {
		os.RemoveAll(images.dir)
	}
	os.Exit(code)
}

// disk builds version ver of testimages/testrestore/disk.sh (once) and
// returns the image and its tree.
func disk(t testing.TB, ver int) (img, tree string) {
	t.Helper()
	testenv.NeedFUSE(t)
	testenv.NeedTools(t, "sgdisk", "mke2fs", "mkfs.fat", "mcopy", "mkntfs", "ntfs-3g", "openssl")
	images.Lock()
	defer images.Unlock()
	if p, ok := images.made[ver]; ok {
		return p[0], p[1]
	}
	if images.dir == "" {
		dir, err := os.MkdirTemp("", "testrestore-images")
		if err != nil {
			t.Fatal(err)
		}
		images.dir, images.made = dir, map[int][2]string{}
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "testimages", "testrestore", "disk.sh")
	v := strconv.Itoa(ver)
	img, tree = filepath.Join(images.dir, "disk"+v+".raw"), filepath.Join(images.dir, "tree"+v)
	if out, err := exec.Command("bash", script, img, tree, v).CombinedOutput(); err != nil {
		t.Fatalf("disk.sh: %v\n%s", err, out)
	}
	images.made[ver] = [2]string{img, tree}
	return img, tree
}

// ingestImage makes a point of img and stores its file index, as
// `vmarchive ingest` does.
func ingestImage(t testing.TB, repo *catalog.Repo, when time.Time, img string) *catalog.Manifest {
	t.Helper()
	d, err := image.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	m, err := ingest.Ingest(ctx, repo, ingest.Options{VM: "vm1", Time: when, SourceKind: "image"},
		[]ingest.DiskSpec{{Name: "disk0", Disk: d, Source: img, Format: d.Format()}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := index.Load(ctx, repo, m, nil); err != nil {
		t.Fatal(err)
	}
	return m
}

// treeFiles counts the regular files of tree and their bytes.
func treeFiles(t testing.TB, tree string) (n, bytes int64) {
	t.Helper()
	err := filepath.Walk(tree, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n++
			bytes += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, bytes
}

func TestGoodPoint(t *testing.T) {
	t.Run("plain", func(t *testing.T) { testGoodPoint(t, catalog.TestRepo(t)) })
	t.Run("encrypted", func(t *testing.T) { testGoodPoint(t, catalog.TestEncryptedRepo(t, testPassword)) })
}

const testPassword = "test-restore-pw"

func testGoodPoint(t *testing.T, repo *catalog.Repo) {
	img, tree := disk(t, 1)
	m := ingestImage(t, repo, t0, img)
	n, bytes := treeFiles(t, tree)

	res, err := Run(context.Background(), repo, m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || len(res.Problems) > 0 || res.IndexBuilt {
		t.Fatalf("result: %+v", res)
	}
	// Three filesystems of the tree; ext4 adds a hard link, read once.
	if res.Disks != 1 || res.Volumes != 3 || res.Files != 3*n+1 || res.FilesRead != 3*n || res.Bytes != 3*bytes {
		t.Fatalf("disks %d volumes %d files %d read %d bytes %d; want 1, 3, %d, %d, %d",
			res.Disks, res.Volumes, res.Files, res.FilesRead, res.Bytes, 3*n+1, 3*n, 3*bytes)
	}
	if res.IndexEntries < res.Files+res.Dirs {
		t.Fatalf("compared %d index entries, walked %d files and %d dirs", res.IndexEntries, res.Files, res.Dirs)
	}
	if b, _, err := repo.Derived(m.ID(), DerivedName); err != nil || strings.Contains(string(b), testPassword) {
		t.Fatalf("recorded result: %v\n%s", err, b)
	}
	got, err := Load(repo, m.ID())
	if err != nil || got == nil || !got.OK || got.Bytes != res.Bytes || got.Duration != res.Duration {
		t.Fatalf("recorded %+v, %v", got, err)
	}

	// A sample reads some files, the same ones every time, and walks all.
	s1, err := Test(context.Background(), repo, m, Options{Sample: 3})
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := Test(context.Background(), repo, m, Options{Sample: 3})
	if !s1.OK || s1.Files != res.Files || s1.FilesRead == 0 || s1.FilesRead >= res.FilesRead ||
		s1.FilesRead != s2.FilesRead || s1.Bytes != s2.Bytes {
		t.Fatalf("sample 1/3: %+v, then %+v", s1, s2)
	}
	s3, err := Test(context.Background(), repo, m, Options{Sample: 3, Take: 2})
	if err != nil || !s3.OK || s3.FilesRead <= s1.FilesRead || s3.FilesRead >= res.FilesRead || s3.Take != 2 {
		t.Fatalf("sample 2/3: %+v, %v (1/3 read %d files)", s3, err, s1.FilesRead)
	}
	if err := Check(context.Background(), repo, m, Options{Sample: 3}); err != nil {
		t.Fatal(err)
	}
}

// chunkOf returns the store object holding byte 2 MiB of path on
// volume vol of disk0 of m.
func chunkOf(t *testing.T, repo *catalog.Repo, m *catalog.Manifest, vol, path string) string {
	t.Helper()
	ctx := context.Background()
	dr, err := repo.OpenDisk(ctx, m, "disk0")
	if err != nil {
		t.Fatal(err)
	}
	gd, err := guestfs.OpenDisk(dr, dr.Size(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range gd.Volumes {
		if v.Name != vol {
			continue
		}
		ino := v.FS.Root()
		for _, name := range strings.Split(strings.Trim(path, "/"), "/") {
			de, err := v.FS.Lookup(ino, name)
			if err != nil {
				t.Fatal(err)
			}
			ino = de.Ino
		}
		es, err := v.FS.(guestfs.Extenter).Extents(ino)
		if err != nil || len(es) == 0 {
			t.Fatalf("extents of %s: %v %v", path, es, err)
		}
		// Past the first chunk: that one may hold the file before it too.
		off := int64(-1)
		for _, x := range es {
			if x.Logical <= 2<<20 && 2<<20 < x.Logical+x.Length {
				off = v.Offset + x.Physical + 2<<20 - x.Logical
			}
		}
		if off < 0 {
			t.Fatalf("%s has no byte at 2 MiB: %v", path, es)
		}
		e, err := dr.Map().Lookup(ctx, off)
		if err != nil {
			t.Fatal(err)
		}
		id := e.ID.String()
		return filepath.Join(repo.Dir(), "store", "data", id[:2], id)
	}
	t.Fatalf("no volume %s", vol)
	return ""
}

func TestCorruptChunk(t *testing.T) {
	img, _ := disk(t, 1)
	repo := catalog.TestRepo(t)
	m := ingestImage(t, repo, t0, img)
	obj := chunkOf(t, repo, m, "p3", "/data/random.bin")
	b, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(obj, b, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := repo.Dir()
	repo.Close() // nothing of the chunk cached
	repo, err = catalog.Open(context.Background(), dir, catalog.Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()

	res, err := Run(context.Background(), repo, m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || len(res.Problems) == 0 {
		t.Fatalf("a damaged chunk passed: %+v", res)
	}
	named := false
	for _, p := range res.Problems {
		t.Log(p)
		// The same bytes on NTFS or FAT may share the chunk; no other file may fail.
		if p.What != "read" || !strings.Contains(p.Path, "/data/random") {
			t.Errorf("unexpected problem %v", p)
		}
		named = named || strings.HasPrefix(p.Path, "disk0/p3/data/random") && strings.Contains(p.Err, "corrupt")
	}
	if !named {
		t.Fatalf("no problem names disk0/p3/data/random.bin as corrupt: %v", res.Problems)
	}
	if got, err := Load(repo, m.ID()); err != nil || got == nil || got.OK || got.Reason() != res.Reason() {
		t.Fatalf("recorded %+v, %v", got, err)
	}
	var fe *FailedError
	if err := Check(context.Background(), repo, m, Options{}); !errors.As(err, &fe) || !strings.Contains(err.Error(), "disk0/p3/data/random") {
		t.Fatalf("Check of the damaged point: %v", err)
	}
}

func TestIndexDisagrees(t *testing.T) {
	img1, tree1 := disk(t, 1)
	img2, tree2 := disk(t, 2)
	repo := catalog.TestRepo(t)
	m1 := ingestImage(t, repo, t0, img1)
	m2 := ingestImage(t, repo, t0.Add(24*time.Hour), img2)
	// Point 2 gets point 1's index: version 2's changes disagree with it.
	b, ok, err := repo.Derived(m1.ID(), index.DerivedName)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := repo.PutDerived(m2.ID(), index.DerivedName, b); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), repo, m2, Options{MaxProblems: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK {
		t.Fatalf("a wrong index passed: %+v", res)
	}
	want := map[string]string{
		"/docs/added.txt":  "found by the walk, not in the file index",
		"/data/medium.bin": "in the file index, not found by the walk",
		"/docs/report.txt": fmt.Sprintf("size %d in the index, %d walked", fileSize(t, tree1, "docs/report.txt"), fileSize(t, tree2, "docs/report.txt")),
	}
	for _, vol := range []string{"disk0/p1", "disk0/p2", "disk0/p3"} {
		for p, msg := range want {
			found := false
			for _, pr := range res.Problems {
				found = found || pr.Path == vol+p && pr.What == "index" && strings.Contains(pr.Err, msg)
			}
			if !found {
				t.Errorf("no index problem %q for %s%s", msg, vol, p)
			}
		}
	}
	// Same size, other bytes: the content keys tell (NTFS keeps it resident: no key).
	for _, vol := range []string{"disk0/p1", "disk0/p3"} {
		found := false
		for _, pr := range res.Problems {
			found = found || pr.Path == vol+"/deep/a/b/c/f1.txt" && strings.Contains(pr.Err, "content key")
		}
		if !found {
			t.Errorf("no content key problem for %s/deep/a/b/c/f1.txt", vol)
		}
	}
	for _, pr := range res.Problems {
		if pr.What != "index" {
			t.Errorf("unexpected problem %v", pr)
		}
	}
}

func fileSize(t *testing.T, tree, name string) int64 {
	fi, err := os.Stat(filepath.Join(tree, name))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// countdown is a context cancelled at its n-th Err call, so a test can
// stop a run part way through without timing.
type countdown struct {
	context.Context
	n, calls atomic.Int64
	done     chan struct{}
}

func (c *countdown) Done() <-chan struct{} { return c.done }

func (c *countdown) Err() error {
	if c.calls.Add(1) >= c.n.Load() {
		select {
		case <-c.done:
		default:
			close(c.done)
		}
		return context.Canceled
	}
	return nil
}

func TestCancel(t *testing.T) {
	img, _ := disk(t, 1)
	repo := catalog.TestRepo(t)
	m := ingestImage(t, repo, t0, img)
	full := &countdown{Context: context.Background(), done: make(chan struct{})}
	full.n.Store(1 << 62)
	if _, err := Test(full, repo, m, Options{Readers: 1}); err != nil {
		t.Fatal(err)
	}
	total := full.calls.Load()
	ctx := &countdown{Context: context.Background(), done: make(chan struct{})}
	ctx.n.Store(total / 2)
	res, err := Run(ctx, repo, m, Options{Readers: 1})
	if err == nil || res != nil || !strings.Contains(err.Error(), "canceled") {
		t.Fatalf("cancelled half way: %+v, %v", res, err)
	}
	t.Logf("%d checks of ctx in a whole run, %d after the cancel", total, ctx.calls.Load()-total/2)
	// Promptly: a few checks after the cancel, not the rest of the run.
	if after := ctx.calls.Load() - total/2; after > total/4 {
		t.Errorf("%d checks of ctx after it was cancelled (a whole run makes %d)", after, total)
	}
	if got, err := Load(repo, m.ID()); err != nil || got != nil {
		t.Fatalf("a cancelled run recorded %+v, %v", got, err)
	}
}
