package instant

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestBootFromArchive: QEMU (TCG, SeaBIOS) boots a disk served from the
// archive with an overlay. The boot sector (testimages/boot) prints a
// banner on the serial port, reads a marker from LBA 8 through NBD,
// writes LBA 9 and exits QEMU by itself; the write lands in the overlay
// and the point stays as ingested. A Linux guest would prove no more of
// the NBD path and takes about a minute under TCG (doc.go).
func TestBootFromArchive(t *testing.T) {
	testenv.NeedTools(t, "qemu-system-x86_64", "qemu-img", "as", "ld", "objcopy")
	marker := "MARKER-" + rand.Text()
	disk := filepath.Join(t.TempDir(), "boot.raw")
	run(t, "../../testimages/boot/boot.sh", disk, marker)
	r := catalog.TestRepo(t)
	p := archived(t, r, disk, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	ovl := filepath.Join(t.TempDir(), "boot.ovl")
	uri, stop := serve(t, r, p, ovl)

	out, code := bootQEMU(t, uri)
	for _, want := range []string{"VMARCHIVE-BOOT: running from the archive", marker, "VMARCHIVE-BOOT: wrote LBA 9, done"} {
		if !strings.Contains(out, want) {
			t.Errorf("serial output lacks %q:\n%s", want, out)
		}
	}
	if code != 33 { // isa-debug-exit: (0x10 << 1) | 1, the boot sector's success
		t.Fatalf("qemu exit status %d, want 33 (the guest's success):\n%s", code, out)
	}
	stop()

	// The write is in the overlay: the export over it is the disk with
	// LBA 9 replaced, nothing else.
	expect := filepath.Join(t.TempDir(), "expect.raw")
	b, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	sector := make([]byte, 512)
	copy(sector, "VMARCHIVE-WRITTEN-BY-GUEST\n")
	copy(b[9*512:], sector)
	if err := os.WriteFile(expect, b, 0o600); err != nil {
		t.Fatal(err)
	}
	uri, stop = serve(t, r, p, ovl)
	run(t, "qemu-img", "compare", "-f", "raw", "-F", "raw", expect, uri)
	stop()
	// The point is unchanged.
	ro, _ := serve(t, r, p, "")
	run(t, "qemu-img", "compare", "-f", "raw", "-F", "raw", disk, ro)
}

// bootQEMU boots uri under -nographic until the guest exits QEMU, and
// returns the serial output and QEMU's exit status. It gives up (the
// test fails) after 30 s; the guest needs about a second.
func bootQEMU(t *testing.T, uri string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", "-nographic", "-no-reboot", "-m", "16", "-nic", "none",
		"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-drive", "file="+uri+",format=raw,if=ide")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("qemu did not exit within 30 s (killed):\n%s", out.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("qemu: %v\n%s", err, out.String())
	}
	return out.String(), ee.ExitCode()
}
