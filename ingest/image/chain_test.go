package image

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// qemuIO runs qemu-io commands against a qcow2 image.
func qemuIO(t *testing.T, img string, cmds ...string) {
	t.Helper()
	args := []string{"-f", "qcow2"}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	run(t, "qemu-io", append(args, img)...)
}

func TestBackingChain(t *testing.T) {
	testenv.NeedTools(t, "qemu-img", "qemu-io")
	ref := refImage(t)
	dir := t.TempDir()
	base := filepath.Join(dir, "base.qcow2")
	run(t, script("mkvariant.sh"), "qcow2-v3", ref, base)

	t.Run("overlay", func(t *testing.T) {
		ov := filepath.Join(dir, "overlay.qcow2")
		run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", ov)
		qemuIO(t, ov, "write -P 0xab 1M 64k", "write -z 0 64k", "write -P 0xcd 5000k 3k")
		testImage(t, ov, "", "qcow2")
	})
	t.Run("v2-overlay-larger-than-base", func(t *testing.T) {
		ov := filepath.Join(dir, "big.qcow2")
		run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-o", "compat=0.10", "-b", "base.qcow2", "-F", "qcow2", ov, "100M")
		qemuIO(t, ov, "write -P 0x11 70M 1M", "write -P 0x12 63M 2M")
		testImage(t, ov, "", "qcow2")
	})
	t.Run("extended-l2-subclusters", func(t *testing.T) {
		ov := filepath.Join(dir, "extl2.qcow2")
		run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-o", "extended_l2=on", "-b", "base.qcow2", "-F", "qcow2", ov)
		qemuIO(t, ov, "write -P 0x5a 6k 2k", "write -z 130k 4k", "write -P 0x22 1000k 100", "write -P 0x33 5200k 70k")
		testImage(t, ov, "", "qcow2")
	})
	t.Run("three-levels-relative-paths-raw-and-vmdk", func(t *testing.T) {
		sub := filepath.Join(dir, "sub")
		os.Mkdir(sub, 0o755)
		vmdk := filepath.Join(dir, "base.vmdk")
		run(t, script("mkvariant.sh"), "vmdk-monolithicSparse", ref, vmdk)
		mid := filepath.Join(sub, "mid.qcow2")
		run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "../base.vmdk", "-F", "vmdk", mid)
		qemuIO(t, mid, "write -P 0x44 2M 512k")
		top := filepath.Join(sub, "top.qcow2")
		run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", top)
		qemuIO(t, top, "write -P 0x55 2200k 8k", "write -z 0 128k")
		testImage(t, top, "", "qcow2")

		rawTop := filepath.Join(sub, "rawtop.qcow2")
		run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", ref, "-F", "raw", rawTop)
		qemuIO(t, rawTop, "write -P 0x66 9M 4k")
		testImage(t, rawTop, "", "qcow2")
	})
	t.Run("preallocated-metadata", func(t *testing.T) {
		img := filepath.Join(dir, "prealloc.qcow2")
		run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-o", "preallocation=metadata", img, "16M")
		qemuIO(t, img, "write -P 0x77 3M 200k", "write -z 3M 64k")
		testImage(t, img, "", "qcow2")
	})
}

func TestBackingLoopAndDepth(t *testing.T) {
	testenv.NeedTools(t, "qemu-img")
	dir := t.TempDir()
	create := func(name, backing string) string {
		p := filepath.Join(dir, name)
		args := []string{"create", "-q", "-f", "qcow2", "-u", p, "1M"}
		if backing != "" {
			args = append(args, "-b", backing, "-F", "qcow2")
		}
		run(t, "qemu-img", args...)
		return p
	}
	self := create("self.qcow2", "self.qcow2")
	a := create("a.qcow2", "b.qcow2")
	create("b.qcow2", "c.qcow2")
	create("c.qcow2", "a.qcow2")
	for _, img := range []string{self, a} {
		_, err := Open(img)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "loop") {
			t.Errorf("Open(%s) = %v, want a loop error", filepath.Base(img), err)
		}
	}

	prev := create("l0.qcow2", "")
	for i := 1; i <= maxChain; i++ {
		prev = create(fmt.Sprintf("l%d.qcow2", i), filepath.Base(prev))
	}
	if _, err := Open(prev); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "chain longer") {
		t.Errorf("Open of a %d-deep chain = %v, want a depth error", maxChain+1, err)
	}
	d, err := Open(filepath.Join(dir, fmt.Sprintf("l%d.qcow2", maxChain-1)))
	if err != nil {
		t.Fatalf("Open of a %d-deep chain: %v", maxChain, err)
	}
	d.Close()

	missing := create("missing.qcow2", "nowhere.qcow2")
	if _, err := Open(missing); err == nil || !strings.Contains(err.Error(), "nowhere.qcow2") {
		t.Errorf("Open with a missing backing file = %v", err)
	}
}

// TestQemuIOWrites covers states that qemu-img convert does not produce:
// internal snapshots, zeroed grain table entries, discarded clusters.
func TestQemuIOWrites(t *testing.T) {
	testenv.NeedTools(t, "qemu-img", "qemu-io")
	ref := refImage(t)
	dir := t.TempDir()
	t.Run("qcow2-internal-snapshot", func(t *testing.T) {
		img := filepath.Join(dir, "snap.qcow2")
		run(t, script("mkvariant.sh"), "qcow2-v3", ref, img)
		run(t, "qemu-img", "snapshot", "-c", "before", img)
		qemuIO(t, img, "write -P 0x99 0 256k", "write -z 5M 128k", "discard 9M 64k")
		testImage(t, img, "", "qcow2")
	})
	t.Run("vmdk-zeroed-grains", func(t *testing.T) {
		img := filepath.Join(dir, "zeroed.vmdk")
		run(t, "qemu-img", "create", "-q", "-f", "vmdk", "-o", "zeroed_grain=on", img, "8M")
		run(t, "qemu-io", "-f", "vmdk", "-c", "write -P 0x61 0 1M", "-c", "write -z 256k 256k", "-c", "write -P 0x62 7M 3k", img)
		testImage(t, img, "", "vmdk-monolithicSparse")
	})
}

// TestOpenReaderAt opens an image from memory, as fuzzing does.
func TestOpenReaderAt(t *testing.T) {
	ref := refImage(t)
	img := filepath.Join(t.TempDir(), "q.qcow2")
	run(t, script("mkvariant.sh"), "qcow2-v3-compressed", ref, img)
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	d, err := OpenReaderAt(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	compareDisk(t, d, oracleRaw(t, img, ""))

	flat := filepath.Join(t.TempDir(), "f.vmdk")
	run(t, script("mkvariant.sh"), "vmdk-monolithicFlat", ref, flat)
	desc, _ := os.ReadFile(flat)
	if _, err := OpenReaderAt(bytes.NewReader(desc), int64(len(desc))); !errors.Is(err, ErrUnsupported) {
		t.Errorf("descriptor with extent files from memory: %v, want ErrUnsupported", err)
	}
}
