package guestfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// run runs a command line, failing the test with its output.
func run(t *testing.T, stdin, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestWholeDiskBehindEmptyTable opens whole-disk filesystems whose sector 0
// ends in 0x55AA: behind an MBR with no entry (mke2fs then an empty sfdisk
// label, or an ext2 image given the signature with dd) the whole disk is
// probed and shown as fs, and Warnings say so; a FAT boot sector is not
// taken for an MBR at all. blkid is the oracle for what the disk holds.
func TestWholeDiskBehindEmptyTable(t *testing.T) {
	testenv.NeedTools(t, "mke2fs", "sfdisk", "mkfs.fat", "mcopy", "blkid", "dd")
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "hello.txt"), []byte("hello\n"), 0o644)
	for _, tc := range []struct {
		name, blkid, kind, scheme, warn string
		make                            func(img string)
	}{
		{"ext4+empty-dos-label", "ext4", "ext4", "mbr", "MBR partition table has no usable entry; the whole disk holds ext4, shown as fs", func(img string) {
			run(t, "", "mke2fs", "-q", "-F", "-t", "ext4", "-d", src, img)
			run(t, "label: dos\n", "sfdisk", "-q", "--wipe", "never", img)
		}},
		{"ext2+boot-signature", "ext2", "ext4", "mbr", "whole disk holds ext4, shown as fs", func(img string) {
			run(t, "", "mke2fs", "-q", "-F", "-t", "ext2", "-d", src, img)
			run(t, "", "bash", "-c", `printf '\x55\xaa' | dd of="$1" bs=1 seek=510 conv=notrunc status=none`, "-", img)
		}},
		{"vfat-whole-disk", "vfat", "vfat", "none", "", func(img string) {
			run(t, "", "mkfs.fat", img)
			run(t, "", "mcopy", "-i", img, filepath.Join(src, "hello.txt"), "::hello.txt")
		}},
		{"empty-dos-label", "", "", "mbr", "MBR partition table has no usable entry, and the whole disk holds no known filesystem", func(img string) {
			run(t, "label: dos\n", "sfdisk", "-q", img)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "disk.img")
			f, err := os.Create(img)
			if err != nil || f.Truncate(8<<20) != nil || f.Close() != nil {
				t.Fatalf("create %s: %v", img, err)
			}
			tc.make(img)
			blkid, _ := exec.Command("blkid", "-p", "-o", "export", img).Output()
			if tc.blkid != "" && !strings.Contains(string(blkid), "\nTYPE="+tc.blkid+"\n") {
				t.Fatalf("blkid does not see %s:\n%s", tc.blkid, blkid)
			}
			if tc.scheme == "mbr" && !strings.Contains(string(blkid), "PTTYPE=dos") {
				t.Fatalf("blkid sees no dos table:\n%s", blkid)
			}
			f, err = os.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			d, err := OpenDisk(f, 8<<20, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d.Table.Scheme != tc.scheme {
				t.Errorf("scheme %q, want %q", d.Table.Scheme, tc.scheme)
			}
			warn := strings.Join(d.Warnings, "\n")
			if tc.warn != "" && !strings.Contains(warn, tc.warn) || tc.warn == "" && warn != "" {
				t.Errorf("warnings %q, want %q", warn, tc.warn)
			}
			if tc.kind == "" {
				if len(d.Volumes) != 0 {
					t.Errorf("volumes %+v on an empty disk", d.Volumes)
				}
				return
			}
			if len(d.Volumes) != 1 || d.Volumes[0].Name != "fs" || d.Volumes[0].Kind != tc.kind || d.Volumes[0].FS == nil {
				t.Fatalf("volumes %+v, want the whole disk as fs (%s)", d.Volumes, tc.kind)
			}
			fs := d.Volumes[0].FS
			e, err := fs.Lookup(fs.Root(), "hello.txt")
			if err != nil {
				t.Fatal(err)
			}
			file, err := fs.Open(e.Ino)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 6)
			if n, _ := file.ReadAt(buf, 0); string(buf[:n]) != "hello\n" {
				t.Errorf("hello.txt reads %q", buf[:n])
			}
		})
	}
}
