package instant

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Zero areas of the test disk: [2, 5) and [6, 8) MiB.
const mib = 1 << 20

// testDisk makes an 8 MiB raw disk with qemu-img and qemu-io: random
// data in the first 2 MiB, a pattern at 5 MiB, zeros elsewhere.
func testDisk(t testing.TB) string {
	t.Helper()
	testenv.NeedTools(t, "qemu-img", "qemu-io")
	path := filepath.Join(t.TempDir(), "disk.raw")
	run(t, "qemu-img", "create", "-q", "-f", "raw", path, "8M")
	rnd := make([]byte, 2*mib)
	f, err := os.Open("/dev/urandom")
	if err != nil {
		t.Fatal(err)
	}
	f.Read(rnd)
	f.Close()
	src := filepath.Join(t.TempDir(), "rnd")
	os.WriteFile(src, rnd, 0o600)
	run(t, "dd", "if="+src, "of="+path, "bs=1M", "conv=notrunc", "status=none")
	run(t, "qemu-io", "-f", "raw", "-c", "write -P 0x5a 5M 1M", path)
	return path
}

// archived ingests the disk as point of vm "web01" and returns it.
func archived(t testing.TB, r *catalog.Repo, path string, when time.Time) *catalog.Manifest {
	t.Helper()
	d, err := image.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	m, err := ingest.Ingest(context.Background(), r, ingest.Options{VM: "web01", Time: when, Config: map[string][]byte{"web01.vmx": []byte("memsize = 512\n")}},
		[]ingest.DiskSpec{{Name: "disk0", Disk: d, Source: path, Format: d.Format()}, {Name: "disk1", Disk: d, Source: path, Format: d.Format()}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// serve exports disk0 of p on a unix socket until the returned stop.
func serve(t testing.TB, r *catalog.Repo, p *catalog.Manifest, overlay string) (uri string, stop func()) {
	t.Helper()
	ex, err := Open(context.Background(), r, p, "disk0", Options{Overlay: overlay, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "nbd.sock")
	l, err := Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ex.Serve(l) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		if err := ex.Close(); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(stop)
	return "nbd+unix:///disk0?socket=" + sock, stop
}

// TestReadOnlyClients: qemu-img, nbdinfo and nbdcopy read the point's
// disk byte for byte, zero chunks shown as holes.
func TestReadOnlyClients(t *testing.T) {
	testenv.NeedTools(t, "qemu-img", "nbdinfo", "nbdcopy")
	path := testDisk(t)
	r := catalog.TestRepo(t)
	p := archived(t, r, path, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	uri, _ := serve(t, r, p, "")

	run(t, "qemu-img", "compare", "-f", "raw", "-F", "raw", path, uri)

	if got, want := holes(t, uri), [][2]int{{2 * mib, 3 * mib}, {6 * mib, 2 * mib}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("nbdinfo --map holes %v, want %v", got, want)
	}

	out := filepath.Join(t.TempDir(), "copy.raw")
	run(t, "nbdcopy", uri, out)
	a, _ := os.ReadFile(path)
	b, _ := os.ReadFile(out)
	if !bytes.Equal(a, b) {
		t.Fatal("nbdcopy's copy differs from the disk")
	}

	// A client's write to a read-only export fails.
	if o, err := exec.Command("qemu-io", "-f", "raw", "-c", "write -P 1 0 4k", uri).CombinedOutput(); err == nil && !strings.Contains(string(o), "failed") {
		t.Fatalf("write to a read-only export: %s", o)
	}
}

// holes returns the (offset, length) of each extent nbdinfo --map calls
// a hole.
func holes(t testing.TB, uri string) [][2]int {
	t.Helper()
	var out [][2]int
	for _, line := range strings.Split(run(t, "nbdinfo", "--map", uri), "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && strings.Contains(f[3], "hole") {
			off, _ := strconv.Atoi(f[0])
			n, _ := strconv.Atoi(f[1])
			out = append(out, [2]int{off, n})
		}
	}
	return out
}

// TestOverlay: qemu-io's writes land in the overlay only, survive a
// restart with the same overlay, and commit into a new point.
func TestOverlay(t *testing.T) {
	testenv.NeedTools(t, "qemu-img", "qemu-io", "nbdinfo")
	path := testDisk(t)
	r := catalog.TestRepo(t)
	p := archived(t, r, path, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	ovl := filepath.Join(t.TempDir(), "web01.ovl")

	// The same writes applied to a copy of the disk are the oracle.
	expect := filepath.Join(t.TempDir(), "expect.raw")
	run(t, "cp", path, expect)
	writes := []string{"-c", "write -P 0xcd 1M 64k", "-c", "write -P 0x11 100 1000", "-c", "write -z 5M 8k",
		"-c", "discard 5242880 4096", "-c", "write -P 0x77 8384512 4096", "-c", "aio_write -P 0x21 3M 512", "-c", "aio_flush"}
	run(t, "qemu-io", append(append([]string{"-f", "raw"}, writes...), expect)...)

	uri, stop := serve(t, r, p, ovl)
	run(t, "qemu-io", append(append([]string{"-f", "raw"}, writes...), uri)...)
	run(t, "qemu-img", "compare", "-f", "raw", "-F", "raw", expect, uri)
	// Written blocks are data, the base's zero chunks around them holes.
	want := [][2]int{{2 * mib, mib}, {3*mib + 4096, 2*mib - 4096}, {6 * mib, 2*mib - 4096}}
	if got := holes(t, uri); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("nbdinfo --map holes through the overlay %v, want %v", got, want)
	}
	stop()

	// The point is unchanged: a fresh read-only export still equals the
	// original disk.
	ro, stopRO := serve(t, r, p, "")
	run(t, "qemu-img", "compare", "-f", "raw", "-F", "raw", path, ro)
	stopRO()

	// Restarted over the same overlay, the writes are there.
	uri, stop = serve(t, r, p, ovl)
	run(t, "qemu-img", "compare", "-f", "raw", "-F", "raw", expect, uri)
	stop()

	// Migrate back: base p (the newest point: only the overlay's blocks
	// are read) plus the overlay becomes a new point.
	m, err := Commit(context.Background(), r, p, "disk0", ovl)
	if err != nil {
		t.Fatal(err)
	}
	assertDisk(t, r, m, "disk0", expect)
	assertDisk(t, r, m, "disk1", path)
	if len(m.Config) != 1 {
		t.Errorf("committed point's config %v", m.Config)
	}

	// An overlay belongs to its point and disk.
	p2 := archived(t, r, path, time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC))
	if _, err := Open(context.Background(), r, p2, "disk0", Options{Overlay: ovl}); err == nil || !strings.Contains(err.Error(), "web01/2026-11-01T00:00:00Z/disk0") {
		t.Fatalf("overlay opened over another point: %v", err)
	}
}

// assertDisk checks that disk of point m holds the bytes of file.
func assertDisk(t *testing.T, r *catalog.Repo, m *catalog.Manifest, disk, file string) {
	t.Helper()
	d, err := r.OpenDisk(context.Background(), m, disk)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := d.WriteTo(&got); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(file)
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("point %s disk %s differs from %s", m.ID(), disk, file)
	}
}

// TestListen: tcp and unix listeners, the socket owner-only, a live
// socket not taken over.
func TestListen(t *testing.T) {
	l, err := Listen("tcp:127.0.0.1:19701")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	sock := filepath.Join(t.TempDir(), "s")
	l, err = Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v %v", fi.Mode(), err)
	}
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	if _, err := Listen("unix:" + sock); err == nil {
		t.Fatal("a live socket was taken over")
	}
	for _, bad := range []string{"", "web01.sock", "udp:1.2.3.4:5", "unix:"} {
		if _, err := Listen(bad); err == nil || !strings.Contains(err.Error(), strconv.Quote(bad)) {
			t.Errorf("Listen(%q): %v", bad, err)
		}
	}
	var _ net.Listener = l
}

// TestOpenReadahead: Options.Readahead reaches the point's reader, 0 as
// the default and a negative count as none.
func TestOpenReadahead(t *testing.T) {
	r := catalog.TestRepo(t)
	p := catalog.TestWritePoint(t, r, "web01", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), map[string][]byte{"disk0": make([]byte, 1<<20)})
	for _, tc := range []struct{ opt, want int64 }{{0, catalog.DefaultReadahead}, {-1, 0}, {8 << 20, 8 << 20}} {
		ex, err := Open(context.Background(), r, p, "disk0", Options{Readahead: tc.opt})
		if err != nil {
			t.Fatal(err)
		}
		if got := ex.srv.Export.Device.(*pointDisk).d.Readahead(); got != tc.want {
			t.Errorf("Options.Readahead %d: reader's %d, want %d", tc.opt, got, tc.want)
		}
		ex.Close()
	}
}
