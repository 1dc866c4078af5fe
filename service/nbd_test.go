package service

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestServeNBD: nbd: entries are served by the service. The latest point
// read-only (qemu-img compare with the image, nbdinfo sees it read-only,
// qemu-io cannot write), an older point with an overlay (qemu-io's write
// reads back through the export, the overlay's map is saved when the
// service stops, the archive is unchanged), and an entry whose VM has no
// point is logged while the rest serve.
func TestServeNBD(t *testing.T) {
	testenv.NeedTools(t, "qemu-img", "qemu-io", "nbdinfo")
	repo := catalog.TestRepo(t)
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "images"), 0o700)
	old, img := filepath.Join(dir, "old.raw"), filepath.Join(dir, "new.raw")
	tool(t, "qemu-img", "create", "-q", "-f", "raw", old, "4M")
	tool(t, "qemu-io", "-f", "raw", "-c", "write -P 0x11 1M 512k", old)
	tool(t, "cp", old, img)
	tool(t, "qemu-io", "-f", "raw", "-c", "write -P 0x22 3M 64k", img)
	ingestAt(t, repo, old, "2026-11-01T00:00:00Z")
	ingestAt(t, repo, img, "2026-11-02T00:00:00Z")

	cfgPath := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`repo: %s
nbd:
  - {vm: x, disk: disk0, listen: "unix:ro.sock"}
  - {vm: x, disk: disk0, point: "2026-11-01T00:00:00Z", listen: "unix:rw.sock", overlay: x.ovl}
  - {vm: nosuch, disk: disk0, listen: "unix:none.sock"}
jobs:
  - name: kvm
    images: {dir: images}
    schedule: "@yearly"
`, repo.Dir())), 0o600)
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var logb lockedBuffer
	s := New(repo, cfg, Options{Log: slog.New(slog.NewTextHandler(&logb, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	ro, rw := filepath.Join(dir, "ro.sock"), filepath.Join(dir, "rw.sock")
	waitFor(t, "the exports", 30*time.Second, func() bool { return answers(ro) && answers(rw) })
	roURL, rwURL := "nbd+unix:///disk0?socket="+ro, "nbd+unix:///disk0?socket="+rw

	tool(t, "qemu-img", "compare", "-f", "raw", "-F", "raw", img, roURL)
	if info := tool(t, "nbdinfo", roURL); !strings.Contains(info, "is_read_only: true") || !strings.Contains(info, "export-size: 4194304") {
		t.Errorf("nbdinfo of the read-only export:\n%s", info)
	}
	if out, err := exec.Command("qemu-io", "-f", "raw", "-c", "write 0 4k", roURL).CombinedOutput(); err == nil && !strings.Contains(string(out), "failed") {
		t.Errorf("a write to the read-only export: %s", out)
	}
	tool(t, "qemu-img", "compare", "-f", "raw", "-F", "raw", old, rwURL)
	tool(t, "qemu-io", "-f", "raw", "-c", "write -P 0x42 0 64k", "-c", "flush", rwURL)
	if out := tool(t, "qemu-io", "-f", "raw", "-c", "read -P 0x42 0 64k", "-c", "read -P 0x11 1M 512k", rwURL); strings.Contains(out, "fail") {
		t.Errorf("reading the write back: %s", out)
	}
	if !strings.Contains(logb.String(), "nbd export not started") || !strings.Contains(logb.String(), `VM nosuch`) || answers(filepath.Join(dir, "none.sock")) {
		t.Errorf("the export of a VM without points:\n%s", logb.String())
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	done <- nil // for the cleanup
	if answers(ro) || answers(rw) {
		t.Fatal("an export still answers after the service stopped")
	}
	if _, err := os.Stat(filepath.Join(dir, "x.ovl.map")); err != nil {
		t.Fatalf("overlay map not saved: %v\n%s", err, logb.String())
	}
	d, err := repo.Point("x", "2026-11-01T00:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	exportOf(t, repo, d, filepath.Join(dir, "back.raw"))
	tool(t, "cmp", old, filepath.Join(dir, "back.raw"))
}

// TestNBDConfigErrors: bad nbd: entries are refused with their line.
func TestNBDConfigErrors(t *testing.T) {
	dir := t.TempDir()
	images := filepath.Join(dir, "images")
	os.Mkdir(images, 0o700)
	good := "repo: /srv/r\njobs:\n  - name: kvm\n    images: {dir: " + images + "}\n    schedule: \"@hourly\"\nnbd:\n"
	for _, tc := range []struct{ name, text, want string }{
		{"no vm", "  - {disk: d, listen: \"tcp:127.0.0.1:1\"}\n", `:7: nbd[0].vm:`},
		{"bad point", "  - {vm: x, disk: d, point: yesterday, listen: \"tcp:127.0.0.1:1\"}\n", `:7: nbd[0].point:`},
		{"bad listen", "  - {vm: x, disk: d, listen: \"/run/x.sock\"}\n", `:7: nbd[0].listen: "/run/x.sock": want unix:PATH or tcp:HOST:PORT`},
		{"no port", "  - {vm: x, disk: d, listen: \"tcp:localhost\"}\n", `:7: nbd[0].listen: "tcp:localhost"`},
		{"bad readahead", "  - {vm: x, disk: d, listen: \"tcp:127.0.0.1:1\", readahead: lots}\n", `:7: nbd[0].readahead: "lots"`},
		{"same socket", "  - {vm: x, disk: d, listen: \"unix:/run/x.sock\"}\n  - {vm: y, disk: d, listen: \"unix:/run/x.sock\"}\n",
			`:8: nbd[1].listen: "unix:/run/x.sock" is used by another export`},
		{"same overlay", "  - {vm: x, disk: d, listen: \"tcp:127.0.0.1:1\", overlay: o}\n  - {vm: x, disk: d, listen: \"tcp:127.0.0.1:2\", overlay: o}\n",
			`:8: nbd[1].overlay: "` + filepath.Join(dir, "o") + `" is used by another export`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "c.yaml")
			os.WriteFile(p, []byte(good+tc.text), 0o600)
			_, err := LoadConfig(p)
			if err == nil || !strings.Contains(err.Error(), p+tc.want) {
				t.Fatalf("got %v\nwant %q", err, p+tc.want)
			}
		})
	}
}

func tool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func ingestAt(t *testing.T, repo *catalog.Repo, img, at string) {
	t.Helper()
	when, err := time.Parse(time.RFC3339, at)
	if err != nil {
		t.Fatal(err)
	}
	d, err := image.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := ingest.Ingest(context.Background(), repo, ingest.Options{VM: "x", Time: when}, []ingest.DiskSpec{{Name: "disk0", Disk: d}}); err != nil {
		t.Fatal(err)
	}
}

// exportOf writes disk0 of point p to path.
func exportOf(t *testing.T, repo *catalog.Repo, p *catalog.Manifest, path string) {
	t.Helper()
	d, err := repo.OpenDisk(context.Background(), p, "disk0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := d.WriteTo(f); err != nil {
		t.Fatal(err)
	}
}

// answers reports whether something accepts on the unix socket.
func answers(sock string) bool {
	c, err := net.Dial("unix", sock)
	if err == nil {
		c.Close()
	}
	return err == nil
}
