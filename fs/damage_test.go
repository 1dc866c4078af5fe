package fs

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestDamagedDirEntries mounts a whole-disk ext4 behind an empty DOS label
// whose directory /d holds good-1, good-2 and four damaged entries (a "/"
// in a name, an empty name, a NUL in a name, an inode out of range; made
// by testimages/ext4/damaged.sh, each reported by e2fsck). The disk shows as
// fs/, ls of d shows the good entries, volumes.txt says what was decided
// and which entries were left out, and the log names each one once.
func TestDamagedDirEntries(t *testing.T) {
	testenv.NeedTools(t, "mke2fs", "debugfs", "e2fsck", "tune2fs", "sfdisk", "dd")
	img := filepath.Join(t.TempDir(), "disk.img")
	sh(t, "bash", script("ext4/damaged.sh"), img, "ext4-csum")
	cmd := exec.Command("sfdisk", "-q", "--wipe", "never", img)
	cmd.Stdin = strings.NewReader("label: dos\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
	r := catalog.TestRepo(t)
	ingestImage(t, r, "vm1", t0, map[string]string{"disk0": img})
	var logs syncBuffer
	mnt, _ := mountRepo(t, r, Options{Logger: newLogger(&logs)})
	disk := filepath.Join(mnt, "vm1/latest/disk0")
	// Cache volumes.txt's attributes before any damage is found.
	if _, err := os.Stat(filepath.Join(disk, "volumes.txt")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		ents, err := os.ReadDir(filepath.Join(disk, "fs/d"))
		if err != nil {
			t.Fatalf("ls fs/d: %v", err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if strings.Join(names, ",") != "good-1,good-2" {
			t.Fatalf("ls fs/d = %q, want good-1 and good-2", names)
		}
	}
	if got := readFile(t, filepath.Join(disk, "fs/d/good-2")); string(got) != "good-2\n" {
		t.Errorf("good-2 reads %q", got)
	}
	if _, err := os.Lstat(filepath.Join(disk, "fs/d/faraway")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("lstat of the out-of-range entry: %v, want ENOENT", err)
	}
	report := string(readFile(t, filepath.Join(disk, "volumes.txt")))
	for _, want := range []string{
		"warning: MBR partition table has no usable entry; the whole disk holds ext4, shown as fs\n",
		"fs\tdamaged, left out: directory 12: logical block 0: entry \"slash/name\" at offset",
		"(inode 13) skipped: empty name\n",
		"entry \"nul\\x00name\"",
		"entry \"faraway\" at offset",
		"(inode 16777215) skipped: inode number out of range 1-64\n",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("volumes.txt lacks %q:\n%s", want, report)
		}
	}
	if n := strings.Count(report, "damaged, left out"); n != 4 {
		t.Errorf("volumes.txt names %d damaged entries, want 4:\n%s", n, report)
	}
	log := logs.String()
	for _, note := range []string{`"slash/name"`, "empty name", `"nul\x00name"`, `"faraway"`} {
		if n := strings.Count(log, note); n != 1 {
			t.Errorf("log names %s %d times, want once:\n%s", note, n, log)
		}
	}
	if !strings.Contains(log, "vm1/2026-11-20T01:00:00Z/disk0/fs: directory 12") || strings.Contains(log, "panic") {
		t.Errorf("log does not say where, or panicked:\n%s", log)
	}
}
