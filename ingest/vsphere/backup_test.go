package vsphere

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// logRecorder collects log lines for the password check.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logRecorder) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// clock hands out capture times one minute apart.
func clock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Minute)
		return t
	}
}

// readBack returns disk of a point as bytes via DiskReader.WriteTo.
func readBack(t *testing.T, repo *catalog.Repo, m *catalog.Manifest, disk string) []byte {
	t.Helper()
	d, err := repo.OpenDisk(context.Background(), m, disk)
	if err != nil {
		t.Fatal(err)
	}
	buf := bytes.NewBuffer(make([]byte, 0, d.Size())) // no regrowth: race runs copy slowly
	if _, err := d.WriteTo(buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// scribble overwrites n bytes at off of file p with random data.
func scribble(t *testing.T, p string, off int64, n int) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	rand.Read(b)
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func findWeb01(t testing.TB, c *Client) VM { return findVM(t, c) }

func findVM(t testing.TB, c *Client) VM {
	t.Helper()
	vms, err := c.Find(context.Background(), "", []string{"web01"})
	if err != nil {
		t.Fatal(err)
	}
	return vms[0]
}

// checkNoSecret fails if the password is in the log, the errors, or any
// file of the repository (manifests, config blobs: stored compressed, so
// the config blobs are also read back through the catalog).
func checkNoSecret(t *testing.T, repo *catalog.Repo, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, testPassword) {
			t.Errorf("password in output: %q", s)
		}
	}
	filepath.WalkDir(repo.Dir(), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(testPassword)) {
				t.Errorf("password in repository file %s", p)
			}
		}
		return nil
	})
	// Manifests are compressed on disk: look at them decoded too.
	pts, _ := repo.Points("")
	for _, m := range pts {
		if b, err := json.Marshal(m); err != nil || bytes.Contains(b, []byte(testPassword)) {
			t.Errorf("password in the manifest of %s (%v)", m.Name(), err)
		}
		for name, cf := range m.Config {
			b, err := repo.ReadBlob(context.Background(), cf.ID, int(cf.Size))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(testPassword)) {
				t.Errorf("password in config file %s of %s", name, m.Name())
			}
		}
	}
}

func TestBackupTwice(t *testing.T) {
	img := filepath.Join(t.TempDir(), "web01.raw")
	demoDisk(t, img, 1)
	s := newSim(t, img, false)
	c := s.connect(t)
	repo := catalog.TestRepo(t)
	var log logRecorder
	opts := Options{Streams: 4, Log: log.logf, Clock: clock()}
	ctx := context.Background()

	r1 := c.Backup(ctx, repo, findWeb01(t, c), opts)
	if r1.Err != nil {
		t.Fatal(r1.Err)
	}
	v1 := mustRead(t, s.flat)
	if got := readBack(t, repo, r1.Manifest, "scsi0-0"); !bytes.Equal(got, v1) {
		t.Fatalf("point 1 differs from the image (%d vs %d bytes)", len(got), len(v1))
	}
	if snaps := s.snapshots(t, c); len(snaps) != 0 {
		t.Fatalf("snapshots left: %v", snaps)
	}
	for _, want := range []string{"config.json", "web01.vmx", "web01.nvram"} {
		if _, ok := r1.Manifest.Config[want]; !ok {
			t.Errorf("point has no config file %s (has %v)", want, r1.Manifest.Config)
		}
	}
	vmx, err := repo.ReadBlob(ctx, r1.Manifest.Config["web01.vmx"].ID, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if onDisk := mustRead(t, filepath.Join(filepath.Dir(filepath.Dir(s.flat)), "web01", "web01.vmx")); !bytes.Equal(vmx, onDisk) {
		t.Errorf("captured .vmx differs from the datastore's")
	}

	// Change the disk: a few scattered writes, then the second point.
	scribble(t, s.flat, 1<<20+4096, 10000)
	scribble(t, s.flat, s.size/2, 65536)
	scribble(t, s.flat, s.size-512, 512)
	r2 := c.Backup(ctx, repo, findWeb01(t, c), opts)
	if r2.Err != nil {
		t.Fatal(r2.Err)
	}
	v2 := mustRead(t, s.flat)
	if got := readBack(t, repo, r2.Manifest, "scsi0-0"); !bytes.Equal(got, v2) {
		t.Fatal("point 2 differs from the changed image")
	}
	if got := readBack(t, repo, r1.Manifest, "scsi0-0"); !bytes.Equal(got, v1) {
		t.Fatal("point 1 changed after point 2")
	}
	if snaps := s.snapshots(t, c); len(snaps) != 0 {
		t.Fatalf("snapshots left: %v", snaps)
	}
	pts, err := repo.Points("web01")
	if err != nil || len(pts) != 2 {
		t.Fatalf("points: %v %v", len(pts), err)
	}
	checkNoSecret(t, repo, log.all())
}

func TestFaultMidReadRemovesSnapshot(t *testing.T) {
	img := filepath.Join(t.TempDir(), "web01.raw")
	demoDisk(t, img, 1)
	s := newSim(t, img, false)
	c := s.connect(t)
	repo := catalog.TestRepo(t)
	s.fault.Store(s.size/2 + 1) // every read from the middle on breaks
	var log logRecorder
	r := c.Backup(context.Background(), repo, findWeb01(t, c), Options{Log: log.logf, Clock: clock()})
	if r.Err == nil {
		t.Fatal("backup succeeded through a broken connection")
	}
	if !strings.Contains(r.Err.Error(), "web01-flat.vmdk") {
		t.Errorf("error does not name the file: %v", r.Err)
	}
	if snaps := s.snapshots(t, c); len(snaps) != 0 {
		t.Fatalf("snapshots left after a failed read: %v", snaps)
	}
	if pts, _ := repo.Points(""); len(pts) != 0 {
		t.Fatalf("a failed backup made %d points", len(pts))
	}
	checkNoSecret(t, repo, log.all(), r.Err.Error())
}

func TestInterruptRemovesSnapshot(t *testing.T) {
	img := filepath.Join(t.TempDir(), "web01.raw")
	demoDisk(t, img, 1)
	s := newSim(t, img, false)
	c := s.connect(t)
	repo := catalog.TestRepo(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	s.mu.Lock()
	s.onServe = func() {
		if s.served.Load() > s.size/4 {
			once.Do(cancel) // like Ctrl-C in the middle of the disk
		}
	}
	s.mu.Unlock()
	r := c.Backup(ctx, repo, findWeb01(t, c), Options{Clock: clock()})
	if !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", r.Err)
	}
	if snaps := s.snapshots(t, c); len(snaps) != 0 {
		t.Fatalf("snapshots left after an interrupt: %v", snaps)
	}
}

func TestLeftoverSnapshotRemoved(t *testing.T) {
	img := filepath.Join(t.TempDir(), "web01.raw")
	demoDisk(t, img, 1)
	s := newSim(t, img, false)
	c := s.connect(t)
	ctx := context.Background()
	vm := findWeb01(t, c)
	// One of the user's snapshots, which must stay, then a crashed run's.
	task, err := objectVM(c, vm).CreateSnapshot(ctx, "before-upgrade", "", false, false)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.createSnapshot(ctx, objectVM(c, vm), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), false); err != nil {
		t.Fatal(err)
	}
	if snaps := s.snapshots(t, c); len(snaps) != 2 {
		t.Fatalf("snapshots before the run: %v", snaps)
	}
	repo := catalog.TestRepo(t)
	var log logRecorder
	r := c.Backup(ctx, repo, vm, Options{Log: log.logf, Clock: clock()})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if snaps := s.snapshots(t, c); len(snaps) != 1 || snaps[0] != "before-upgrade" {
		t.Fatalf("snapshots left: %v, want the user's alone", snaps)
	}
	if !strings.Contains(log.all(), SnapshotPrefix+"20260101T000000Z") {
		t.Errorf("removal of the leftover not logged: %q", log.all())
	}
}

func TestWrongPasswordNotShown(t *testing.T) {
	img := filepath.Join(t.TempDir(), "web01.raw")
	demoDisk(t, img, 1)
	s := newSim(t, img, false)
	cfg := s.cfg
	cfg.Password = testPassword + "-wrong"
	_, err := Connect(context.Background(), cfg)
	if err == nil {
		t.Fatal("login with a wrong password succeeded")
	}
	if strings.Contains(err.Error(), testPassword) {
		t.Fatalf("password in error: %v", err)
	}
	// Also with the password in the URL, as govc allows.
	cfg = s.cfg
	cfg.Password = ""
	cfg.URL = strings.Replace(cfg.URL, "://", "://backup:"+testPassword+"-x@", 1)
	_, err = Connect(context.Background(), cfg)
	if err == nil || strings.Contains(err.Error(), testPassword) {
		t.Fatalf("want a login error without the password, got %v", err)
	}
	if strings.Contains(cfg.Redacted(), testPassword) {
		t.Fatalf("Redacted shows the password: %s", cfg.Redacted())
	}
}
