package fs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
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
	"github.com/vmarchive/vmarchive/catalog/backend"
	"github.com/vmarchive/vmarchive/guestfs"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestRsyncFidelity copies a point's guest tree out with rsync -aHAX and has
// rsync itself compare the copy with the reference tree the image was
// built from: content (checksums), sizes, times, modes, owners, symlinks,
// hard links, devices, xattrs and ACLs.
func TestRsyncFidelity(t *testing.T) {
	testenv.NeedTools(t, "rsync")
	tree, disk := refDisk(t, "1")
	r := catalog.TestRepo(t)
	ingestImage(t, r, "web01", t0, map[string]string{"disk0": disk})
	mnt, _ := mountRepo(t, r, Options{})
	src := filepath.Join(mnt, "web01", "latest", "disk0", "p1") + "/"
	out := filepath.Join(t.TempDir(), "out") + "/"
	sh(t, "rsync", "-aHAX", "--exclude=/lost+found", src, out)
	// -c compares content; -i itemizes every difference of any attribute.
	diff := sh(t, "rsync", "-n", "-aHAXc", "--modify-window=-1", "-i", "--delete", "--exclude=/lost+found", tree+"/", out)
	if strings.TrimSpace(diff) != "" {
		t.Fatalf("rsync sees differences between the reference tree and the copy:\n%s", diff)
	}
	// Also straight against the mount, no copy in between.
	diff = sh(t, "rsync", "-n", "-aHAXc", "--modify-window=-1", "-i", "--delete", "--exclude=/lost+found", tree+"/", src)
	if strings.TrimSpace(diff) != "" {
		t.Fatalf("rsync sees differences between the reference tree and the mount:\n%s", diff)
	}
	// Hard links: one st_ino, nlink 3.
	var a, b syscall.Stat_t
	syscall.Lstat(src+"home/ann/Documents/report.txt", &a)
	syscall.Lstat(src+"srv/report-hardlink2", &b)
	if a.Ino != b.Ino || a.Nlink != 3 {
		t.Fatalf("hard links: ino %d vs %d, nlink %d", a.Ino, b.Ino, a.Nlink)
	}
	// Nanosecond times survive.
	var l syscall.Stat_t
	syscall.Lstat(src+"home/ann/host-link", &l)
	if got := time.Unix(l.Mtim.Sec, l.Mtim.Nsec).UTC(); !got.Equal(time.Date(2020, 2, 29, 12, 34, 56, 123456789, time.UTC)) {
		t.Fatalf("symlink mtime %v", got)
	}
}

// TestTarAndCpOut: the other ways people copy one file out.
func TestTarAndCpOut(t *testing.T) {
	tree, disk := refDisk(t, "1")
	r := catalog.TestRepo(t)
	ingestImage(t, r, "web01", t0, map[string]string{"disk0": disk})
	mnt, _ := mountRepo(t, r, Options{})
	dst := filepath.Join(t.TempDir(), "report.txt")
	sh(t, "cp", "-a", filepath.Join(mnt, "web01/latest/disk0/p1/home/ann/Documents/report.txt"), dst)
	if !bytes.Equal(readFile(t, dst), readFile(t, filepath.Join(tree, "home/ann/Documents/report.txt"))) {
		t.Fatal("cp copy differs")
	}
	tarOut := t.TempDir()
	sh(t, "bash", "-c", fmt.Sprintf("tar -C %q --xattrs --xattrs-include='*' --acls -cf - . | tar -C %q --xattrs --xattrs-include='*' --acls --numeric-owner -xpf -", filepath.Join(mnt, "web01/latest/disk0/p1"), tarOut))
	if diff := sh(t, "rsync", "-n", "-aHAXc", "--modify-window=-1", "-i", "--delete", "--exclude=/lost+found", tree+"/", tarOut+"/"); strings.TrimSpace(diff) != "" {
		t.Fatalf("tar round trip differs:\n%s", diff)
	}
	// The sparse file reads back with its data in the middle.
	b := readFile(t, filepath.Join(mnt, "web01/latest/disk0/p1/srv/data/sparse.img"))
	if len(b) != 20<<20 || string(b[10485760:10485760+18]) != "data in the middle" {
		t.Fatalf("sparse file: %d bytes", len(b))
	}
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInodesStableAcrossMounts mounts twice and compares every st_ino.
func TestInodesStableAcrossMounts(t *testing.T) {
	_, disk := refDisk(t, "1")
	r := catalog.TestRepo(t)
	ingestImage(t, r, "web01", t0, map[string]string{"disk0": disk})
	snapshot := func() map[string]uint64 {
		mnt, srv := mountRepo(t, r, Options{})
		inos := map[string]uint64{}
		filepath.WalkDir(mnt, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			var st syscall.Stat_t
			if err := syscall.Lstat(p, &st); err != nil {
				t.Fatal(err)
			}
			inos[strings.TrimPrefix(p, mnt)] = st.Ino
			return nil
		})
		srv.Unmount()
		return inos
	}
	a, b := snapshot(), snapshot()
	if len(a) < 30 || len(a) != len(b) {
		t.Fatalf("%d vs %d paths", len(a), len(b))
	}
	seen := map[uint64]string{}
	for p, ino := range a {
		if b[p] != ino {
			t.Errorf("%s: st_ino %d then %d", p, ino, b[p])
		}
		if q, dup := seen[ino]; dup && !strings.Contains(p+q, "hardlink") && !strings.Contains(p+q, "report.txt") {
			t.Errorf("%s and %s share st_ino %d", p, q, ino)
		}
		seen[ino] = p
	}
}

// TestReadOnly: every kind of write fails with EROFS and the repository
// does not change.
func TestReadOnly(t *testing.T) {
	_, disk := refDisk(t, "1")
	r := catalog.TestRepo(t)
	ingestImage(t, r, "web01", t0, map[string]string{"disk0": disk})
	before := treeHash(t, r.Dir())
	mnt, _ := mountRepo(t, r, Options{})
	p1 := filepath.Join(mnt, "web01/latest/disk0/p1")
	file := filepath.Join(p1, "etc/hostname")
	checks := map[string]error{
		"open for write": func() error { f, err := os.OpenFile(file, os.O_WRONLY, 0); f.Close(); return err }(),
		"create":         func() error { f, err := os.Create(filepath.Join(p1, "new")); f.Close(); return err }(),
		"create in VM":   func() error { f, err := os.Create(filepath.Join(mnt, "web01", "x")); f.Close(); return err }(),
		"mkdir":          os.Mkdir(filepath.Join(mnt, "newvm"), 0o755),
		"rename":         os.Rename(file, file+".old"),
		"remove":         os.Remove(file),
		"chmod":          os.Chmod(file, 0o777),
		"chown":          os.Chown(file, 1, 1),
		"truncate":       os.Truncate(filepath.Join(mnt, "web01/latest/disk0.img"), 0),
		"setxattr":       syscall.Setxattr(file, "user.x", []byte("y"), 0),
		"symlink":        os.Symlink("x", filepath.Join(p1, "l")),
		"utimes":         os.Chtimes(file, time.Now(), time.Now()),
	}
	for what, err := range checks {
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s: %v, want EROFS", what, err)
		}
	}
	if after := treeHash(t, r.Dir()); after != before {
		t.Fatal("the repository changed under a read-only mount")
	}
}

// treeHash hashes the store's names and contents (the catalog and lock
// are the mount's own working state).
func treeHash(t testing.TB, dir string) string {
	h := sha256.New()
	filepath.WalkDir(filepath.Join(dir, "store"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			fmt.Fprintf(h, "%s\n", p)
			h.Write(readFile(t, p))
		}
		return nil
	})
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestDamageIsContained: a missing chunk gives EIO on the files that use
// it, the rest of the tree keeps serving, and the error is logged once.
func TestDamageIsContained(t *testing.T) {
	tree, disk := refDisk(t, "1")
	r := catalog.TestRepo(t)
	m := ingestImage(t, r, "web01", t0, map[string]string{"disk0": disk})
	// Delete the chunk holding the middle of big.bin.
	bigExt := chunkOfFile(t, r, m, "home/ann/Documents/big.bin")
	os.Remove(filepath.Join(r.Dir(), "store", "data", bigExt.String()[:2], bigExt.String()))
	var logs syncBuffer
	mnt, _ := mountRepo(t, r, Options{Logger: newLogger(&logs)})
	p1 := filepath.Join(mnt, "web01/latest/disk0/p1")
	for i := 0; i < 3; i++ {
		if _, err := os.ReadFile(filepath.Join(p1, "home/ann/Documents/big.bin")); !errors.Is(err, syscall.EIO) {
			t.Fatalf("read of damaged file: %v, want EIO", err)
		}
	}
	if got := readFile(t, filepath.Join(p1, "etc/hostname")); !bytes.Equal(got, readFile(t, filepath.Join(tree, "etc/hostname"))) {
		t.Fatal("healthy file unreadable")
	}
	if n := strings.Count(logs.String(), "chunk "+bigExt.String()); n != 1 {
		t.Fatalf("damaged chunk logged %d times:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "web01/2026-11-20T01:00:00Z disk disk0 at offset") {
		t.Fatalf("log does not name point, disk and offset:\n%s", logs.String())
	}
}

// chunkOfFile finds the chunk holding the middle of a guest file of the
// first volume, through guestfs and the file's extents.
func chunkOfFile(t testing.TB, r *catalog.Repo, m *catalog.Manifest, guestPath string) catalog.ChunkID {
	t.Helper()
	ctx := context.Background()
	d, err := r.OpenDisk(ctx, m, "disk0")
	if err != nil {
		t.Fatal(err)
	}
	gd, err := guestfs.OpenDisk(d, d.Size(), nil)
	if err != nil {
		t.Fatal(err)
	}
	v := gd.Volumes[0]
	ino := v.FS.Root()
	for _, name := range strings.Split(guestPath, "/") {
		e, err := v.FS.Lookup(ino, name)
		if err != nil {
			t.Fatal(err)
		}
		ino = e.Ino
	}
	ext, err := v.FS.(guestfs.Extenter).Extents(ino)
	if err != nil || len(ext) == 0 {
		t.Fatalf("extents of %s: %v", guestPath, err)
	}
	e := ext[len(ext)/2]
	phys := v.Offset + e.Physical + e.Length/2
	x, err := d.Map().Lookup(ctx, phys)
	if err != nil || x.ID.IsZero() {
		t.Fatalf("chunk at %d: %v", phys, err)
	}
	return x.ID
}

func newLogger(w io.Writer) *log.Logger { return log.New(w, "", 0) }

func TestSignalsUnmountCleanly(t *testing.T) {
	testenv.NeedFUSE(t)
	_, disk := refDisk(t, "1")
	bin, env, run := cliRepo(t)
	run("init")
	run("ingest", "--vm", "web01", "--point-time", "2026-11-20T01:00:00Z", "disk0="+disk)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		mnt := t.TempDir()
		c := exec.Command(bin, "mount", mnt)
		c.Env = env
		stderr := &syncBuffer{}
		c.Stderr = stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return strings.Contains(stderr.String(), "mounted at") })
		c.Process.Signal(sig)
		if err := c.Wait(); err != nil {
			t.Fatalf("%v: mount exited with %v\n%s", sig, err, stderr.String())
		}
		if isMounted(t, mnt) {
			t.Fatalf("%v: still mounted", sig)
		}
	}
	// A killed daemon leaves a dead mount; the next mount deals with it.
	mnt := t.TempDir()
	c := exec.Command(bin, "mount", mnt)
	c.Env = env
	stderr := &syncBuffer{}
	c.Stderr = stderr
	c.Start()
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "mounted at") })
	c.Process.Kill()
	c.Wait()
	if _, err := os.Stat(mnt); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("after kill -9: %v, want a dead mount (ENOTCONN)", err)
	}
	c = exec.Command(bin, "mount", mnt)
	c.Env = env
	stderr = &syncBuffer{}
	c.Stderr = stderr
	c.Start()
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "mounted at") })
	if _, err := os.ReadFile(filepath.Join(mnt, "web01/latest/disk0/p1/etc/hostname")); err != nil {
		t.Fatalf("remount over a dead mount does not serve: %v\n%s", err, stderr.String())
	}
	c.Process.Signal(syscall.SIGTERM)
	c.Wait()
	if !strings.Contains(stderr.String(), "left mounted by a vmarchive that died") {
		t.Fatalf("no message about the stale mount:\n%s", stderr.String())
	}
}

func isMounted(t testing.TB, dir string) bool {
	b := readFile(t, "/proc/self/mountinfo")
	return strings.Contains(string(b), " "+dir+" ")
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("timed out")
}

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// stallingBackend never answers for one object, until the caller gives up.
type stallingBackend struct {
	backend.Backend
	stall string
}

func (b stallingBackend) Get(ctx context.Context, name string) ([]byte, error) {
	if name == b.stall {
		<-ctx.Done()
		return nil, fmt.Errorf("get %s: %w", name, ctx.Err())
	}
	return b.Backend.Get(ctx, name)
}

// TestStalledBackendGivesEIO: a read the backend never answers fails with
// EIO after the read timeout; other files keep serving.
func TestStalledBackendGivesEIO(t *testing.T) {
	tree, disk := refDisk(t, "1")
	r := catalog.TestRepo(t)
	m := ingestImage(t, r, "web01", t0, map[string]string{"disk0": disk})
	id := chunkOfFile(t, r, m, "home/ann/Documents/big.bin")
	dir := r.Dir()
	r.Close()
	r2, err := catalog.Open(context.Background(), dir, catalog.Options{WrapBackend: func(b backend.Backend) backend.Backend {
		return stallingBackend{Backend: b, stall: id.ObjectName()}
	}})
	if err != nil {
		t.Fatal(err)
	}
	// A cleanup, not a defer: it must run after mountRepo's unmount, or
	// a request the kernel still sends meets a closed repository.
	t.Cleanup(func() { r2.Close() })
	mnt, _ := mountRepo(t, r2, Options{ReadTimeout: 500 * time.Millisecond})
	p1 := filepath.Join(mnt, "web01/latest/disk0/p1")
	start := time.Now()
	if _, err := os.ReadFile(filepath.Join(p1, "home/ann/Documents/big.bin")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("read through a stalled backend: %v, want EIO", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("EIO took %v", el)
	}
	if got := readFile(t, filepath.Join(p1, "etc/hostname")); !bytes.Equal(got, readFile(t, filepath.Join(tree, "etc/hostname"))) {
		t.Fatal("healthy file unreadable")
	}
}

// failingBackend fails every Get of a stored object while fail is set.
type failingBackend struct {
	backend.Backend
	fail *atomic.Bool
}

func (b failingBackend) Get(ctx context.Context, name string) ([]byte, error) {
	if b.fail.Load() && strings.HasPrefix(name, "data/") {
		return nil, fmt.Errorf("get %s: injected failure", name)
	}
	return b.Backend.Get(ctx, name)
}

// TestFailedOpenIsRetried: an image open and a disk directory listing
// that fail while the backend fails are not remembered: once it works
// again, the next open and listing through the same mount succeed.
func TestFailedOpenIsRetried(t *testing.T) {
	r := catalog.TestRepo(t)
	data := bytes.Repeat([]byte("vmarchive retry "), 64<<10)
	m := catalog.TestWritePoint(t, r, "web01", t0, map[string][]byte{"disk0": data})
	dir := r.Dir()
	r.Close()
	var fail atomic.Bool
	fail.Store(true)
	r2 := reopen(t, dir, func(b backend.Backend) backend.Backend { return failingBackend{b, &fail} })
	mnt, _ := mountRepo(t, r2, Options{})
	point := filepath.Join(mnt, "web01", m.Name())
	if _, err := os.ReadFile(filepath.Join(point, "disk0.img")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("open while the backend fails: %v, want EIO", err)
	}
	if _, err := os.ReadDir(filepath.Join(point, "disk0")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("list while the backend fails: %v, want EIO", err)
	}
	fail.Store(false)
	if got, err := os.ReadFile(filepath.Join(point, "disk0.img")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("second open: %v (%d bytes)", err, len(got))
	}
	if ents, err := os.ReadDir(filepath.Join(point, "disk0")); err != nil || len(ents) == 0 {
		t.Fatalf("second listing: %v, %d entries", err, len(ents))
	}
}
