package image

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

const mib = 1 << 20

// Writes of the three levels: the base's at odd offsets (any alignment),
// the children's sector-aligned (4 KiB-aligned for 4 KiB sectors) but
// not block-aligned, crossing block boundaries.
var (
	baseWrites = []write{{0, 3 * mib, 0x11}, {3*mib + 100, 5 * mib, 0x12}, {12*mib + 7, 2*mib + 3, 0x13}}
	midWrites  = []write{{4096, 8192, 0x21}, {2*mib - 4096, 12288, 0x22}, {6 * mib, 4096, 0x23}, {13*mib + 8192, 65536, 0x24}}
	topWrites  = []write{{8192, 4096, 0x31}, {2*mib + 4096, 4096, 0x32}, {9 * mib, 1 * mib, 0x33}}
)

// chainOracle is qemu-img's raw conversion of base with the writes of
// each level applied in turn by qemu-io.
func chainOracle(t *testing.T, base, qfmt string, levels ...[]write) string {
	t.Helper()
	want := oracleRaw(t, base, qfmt)
	for _, ws := range levels {
		applyWrites(t, want, "raw", ws)
	}
	return want
}

// vhdiOracle checks that libvhdi reads the chain (child first) as want.
func vhdiOracle(t *testing.T, want string, chain ...string) {
	t.Helper()
	if exec.Command("/usr/bin/python3", "-c", "import pyvhdi").Run() != nil {
		testenv.Missing(t, "python3-libvhdi (pyvhdi)")
		return
	}
	out := filepath.Join(t.TempDir(), "vhdi.raw")
	run(t, script("vhdiraw.py"), append([]string{out}, chain...)...)
	a, b := readFile(t, out), readFile(t, want)
	if !bytes.Equal(a, b) {
		t.Fatalf("libvhdi reads the chain differently from the oracle (%d and %d bytes): the builder made an invalid image", len(a), len(b))
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newImage creates a 16 MiB image and applies ws.
func newImage(t *testing.T, path, qfmt, opts string, ws []write) string {
	t.Helper()
	args := []string{"create", "-q", "-f", qfmt}
	if opts != "" {
		args = append(args, "-o", opts)
	}
	run(t, "qemu-img", append(args, path, "16M")...)
	applyWrites(t, path, qfmt, ws)
	return path
}

func openDiff(t *testing.T, img, format string) Disk {
	t.Helper()
	d, err := Open(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if d.Format() != format {
		t.Errorf("Format() = %q, want %q", d.Format(), format)
	}
	return d
}

// TestVHDDifferencing reads a three-level VHD chain, the top in a
// subdirectory naming its parent "..\mid.vhd".
func TestVHDDifferencing(t *testing.T) {
	testenv.NeedTools(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	base := newImage(t, filepath.Join(dir, "base.vhd"), "vpc", "", baseWrites)
	mid := newImage(t, filepath.Join(dir, "mid.vhd"), "vpc", "", midWrites)
	mkVHDDiff(t, mid, base, "base.vhd", midWrites)
	top := newImage(t, filepath.Join(dir, "sub", "top.vhd"), "vpc", "", topWrites)
	mkVHDDiff(t, top, mid, `..\mid.vhd`, topWrites)
	want := chainOracle(t, base, "vpc", midWrites, topWrites)
	alloc := compareDisk(t, openDiff(t, top, "vhd-differencing"), want)
	vhdiOracle(t, want, top, mid, base)
	if len(alloc) < 4 {
		t.Errorf("Allocated() = %s: the base's holes are missing", fmtExtents(alloc))
	}
}

// TestVHDXDifferencing reads VHDX differencing disks with 512- and
// 4096-byte logical sectors; the second finds its parent by the base
// name of its absolute path when the relative one is missing.
func TestVHDXDifferencing(t *testing.T) {
	testenv.NeedTools(t, "qemu-img", "qemu-io")
	for _, sector := range []int{512, 4096} {
		t.Run(fmt.Sprint(sector), func(t *testing.T) {
			dir := t.TempDir()
			os.Mkdir(filepath.Join(dir, "sub"), 0o755)
			base := newImage(t, filepath.Join(dir, "base.vhdx"), "vhdx", "block_size=1M", baseWrites)
			want := chainOracle(t, base, "vhdx", midWrites) // before any sector size change
			// block_state_zero=off: unwritten blocks not present (the
			// parent's), not zero, as in a new differencing disk.
			child := newImage(t, filepath.Join(dir, "sub", "child.vhdx"), "vhdx", "block_size=1M,block_state_zero=off", midWrites)
			if sector == 4096 {
				setVHDXSector(t, base, 4096)
				setVHDXSector(t, child, 4096)
			}
			mkVHDXDiff(t, child, base, `..\base.vhdx`, midWrites)
			compareDisk(t, openDiff(t, child, "vhdx-differencing"), want)
			vhdiOracle(t, want, child, base)

			// A relative path that leads nowhere: the absolute path's
			// base name, beside the child, is tried next.
			moved := newImage(t, filepath.Join(dir, "moved.vhdx"), "vhdx", "block_size=1M,block_state_zero=off", midWrites)
			if sector == 4096 {
				setVHDXSector(t, moved, 4096)
			}
			mkVHDXDiff(t, moved, base, `gone\base.vhdx`, midWrites)
			compareDisk(t, openDiff(t, moved, "vhdx-differencing"), want)
		})
	}
}

func setVHDXSector(t *testing.T, img string, n uint32) {
	const meta = 3 << 20
	patch(t, img, meta+int64(vhdxItemOffset(t, img, meta, "8141bf1d-a96f-4709-ba47-f233a8faab5f")), le32(n))
}

// TestDifferencingParents: a parent replaced by another disk, a missing
// parent, loops and over-long chains are refused naming the files.
func TestDifferencingParents(t *testing.T) {
	testenv.NeedTools(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	ws := []write{{4096, 4096, 0x41}}
	base := newImage(t, p("base.vhd"), "vpc", "", nil)
	child := newImage(t, p("child.vhd"), "vpc", "", ws)
	mkVHDDiff(t, child, base, "base.vhd", ws)
	xbase := newImage(t, p("base.vhdx"), "vhdx", "", nil)
	xchild := newImage(t, p("child.vhdx"), "vhdx", "block_state_zero=off", ws)
	mkVHDXDiff(t, xchild, xbase, "base.vhdx", ws)
	openErr := func(img string) error {
		d, err := Open(img)
		if err == nil {
			d.Close()
		}
		return err
	}

	os.Rename(base, p("saved.vhd"))
	newImage(t, base, "vpc", "", nil) // same name, another disk
	if err := openErr(child); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "has unique id") {
		t.Errorf("VHD parent replaced: %v", err)
	}
	os.Remove(base)
	if err := openErr(child); err == nil || !strings.Contains(err.Error(), `no parent file found; tried "`+base+`"`) {
		t.Errorf("VHD parent missing: %v", err)
	}
	os.Rename(xbase, p("saved.vhdx"))
	newImage(t, xbase, "vhdx", "", nil)
	if err := openErr(xchild); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "has data write GUID") {
		t.Errorf("VHDX parent replaced: %v", err)
	}

	// Loops: a disk naming itself, and a -> b -> a. Copies share a unique
	// id, so the id check passes and only the loop check stops them.
	tmpl := newImage(t, p("tmpl.vhd"), "vpc", "", nil)
	cp := func(name string) string {
		os.WriteFile(p(name), readFile(t, tmpl), 0o644)
		return p(name)
	}
	self := cp("self.vhd")
	mkVHDDiff(t, self, tmpl, "self.vhd", nil)
	a, b := cp("a.vhd"), cp("b.vhd")
	mkVHDDiff(t, a, tmpl, "b.vhd", nil)
	mkVHDDiff(t, b, tmpl, "a.vhd", nil)
	for _, img := range []string{self, a} {
		if err := openErr(img); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "loop") {
			t.Errorf("Open(%s) = %v, want a loop error", filepath.Base(img), err)
		}
	}
	prev := cp("l0.vhd")
	for i := 1; i <= maxChain; i++ {
		next := cp(fmt.Sprintf("l%d.vhd", i))
		mkVHDDiff(t, next, tmpl, filepath.Base(prev), nil)
		prev = next
	}
	if err := openErr(prev); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "chain longer") {
		t.Errorf("Open of a %d-deep chain = %v, want a depth error", maxChain+1, err)
	}
	if err := openErr(p(fmt.Sprintf("l%d.vhd", maxChain-1))); err != nil {
		t.Errorf("Open of a %d-deep chain: %v", maxChain, err)
	}
}
