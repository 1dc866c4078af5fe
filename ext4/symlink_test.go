package ext4

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// symlinkTree makes a tree with a fast and a slow symlink and a file.
func symlinkTree(t *testing.T) string {
	src := t.TempDir()
	for name, target := range map[string]string{"fast": "target", "slow": strings.Repeat("y", 80)} {
		if err := os.Symlink(target, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(src, "file"), []byte("content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return src
}

// TestFastSymlinkWithXattr reads symlinks that carry a large xattr: with
// ea_inode the value's inode is charged to the symlink's i_blocks, which
// must not make a fast symlink look slow; without it the xattr block is.
// e2fsck before 1.47.4 takes such a fast symlink for one with illegal
// blocks (fixed by e2fsprogs ae7370a5), so the oracles are debugfs's
// "Fast link dest", the source tree and, where it can loop-mount, Linux.
func TestFastSymlinkWithXattr(t *testing.T) {
	testenv.NeedTools(t, "mke2fs", "debugfs", "e2fsck", "setfattr")
	for _, tc := range []struct {
		name string
		val  int
		args []string
	}{
		{"ea_inode", 3000, []string{"-O", "ea_inode"}},
		{"xattr-block", 600, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := symlinkTree(t)
			val := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz"), tc.val/36+1)[:tc.val]
			for _, name := range []string{"fast", "slow"} {
				if out, err := exec.Command("setfattr", "-h", "-n", "trusted.big", "-v", string(val), filepath.Join(src, name)).CombinedOutput(); err != nil {
					t.Fatalf("setfattr: %v\n%s", err, out)
				}
			}
			img := mkfsTree(t, src, "2M", append([]string{"-b", "1024", "-N", "64"}, tc.args...)...)
			// mke2fs -d does not charge an EA inode to i_blocks; e2fsck does.
			exec.Command("e2fsck", "-fy", img).Run()
			st := debugfs(t, img, []string{"stat /fast"})
			if !strings.Contains(st, `Fast link dest: "target"`) || regexp.MustCompile(`Blockcount: 0\b`).MatchString(st) {
				t.Fatalf("image is not a fast symlink with blocks charged:\n%s", st)
			}
			kernel := tryKernelMount(t, img)
			fs := openImage(t, img, nil)
			for _, name := range []string{"fast", "slow"} {
				want, _ := os.Readlink(filepath.Join(src, name))
				if kernel != "" {
					if k, err := os.Readlink(filepath.Join(kernel, name)); err != nil || k != want {
						t.Fatalf("Linux readlink %s = %q, %v; want %q", name, k, err, want)
					}
				}
				ino := lookupPath(t, fs, name)
				if got, err := fs.Readlink(ino); err != nil || got != want {
					t.Errorf("Readlink %s = %q, %v; want %q", name, got, err, want)
				}
				if got, err := fs.GetXattr(ino, "trusted.big"); err != nil || !bytes.Equal(got, val) {
					t.Errorf("GetXattr %s trusted.big: %d bytes, %v", name, len(got), err)
				}
				if ext, err := fs.Extents(ino); err != nil || (name == "fast") != (len(ext) == 0) {
					t.Errorf("Extents %s = %v, %v", name, ext, err)
				}
			}
		})
	}
}

// TestSymlinkStopsAtNUL gives symlinks an i_size past their target: the
// target ends at the first NUL, as Linux and fuse2fs read it.
func TestSymlinkStopsAtNUL(t *testing.T) {
	testenv.NeedTools(t, "mke2fs", "debugfs")
	src := symlinkTree(t)
	img := mkfsTree(t, src, "1M", "-b", "1024", "-N", "32")
	debugfsWrite(t, img, "sif /fast size 40", "sif /slow size 300")
	fs := openImage(t, img, nil)
	mnt := fuse2fsMount(t, img)
	for _, name := range []string{"fast", "slow"} {
		ino := lookupPath(t, fs, name)
		if a, _ := fs.Stat(ino); a.Size != map[string]int64{"fast": 40, "slow": 300}[name] {
			t.Fatalf("%s: i_size %d, debugfs did not set it", name, a.Size)
		}
		want, _ := os.Readlink(filepath.Join(src, name))
		oracle, err := os.Readlink(filepath.Join(mnt, name))
		if err != nil || oracle != want {
			t.Fatalf("fuse2fs readlink %s = %q, %v; want %q", name, oracle, err, want)
		}
		if got, err := fs.Readlink(ino); err != nil || got != want {
			t.Errorf("Readlink %s = %q, %v; want %q", name, got, err, want)
		}
	}
}

// TestSizeTopBitIsCorrupt sets the top bit of i_size_high: the size is
// unsigned on disk and far past what the filesystem can address, so the
// inode is corrupt (fuse2fs gives EIO too); a large but possible sparse
// size next to it still reads, and so does the directory.
func TestSizeTopBitIsCorrupt(t *testing.T) {
	testenv.NeedTools(t, "mke2fs", "debugfs")
	src := symlinkTree(t)
	os.WriteFile(filepath.Join(src, "huge"), []byte("sparse\n"), 0o644)
	img := mkfsTree(t, src, "1M", "-b", "1024", "-N", "32")
	debugfsWrite(t, img, "sif /file size_hi 0x80000000", "sif /huge size_hi 0x100")
	fs := openImage(t, img, nil)
	mnt := fuse2fsMount(t, img)
	ents, err := fs.ReadDir(RootIno)
	if err != nil || len(ents) != 5 {
		t.Fatalf("ReadDir = %v, %v", ents, err)
	}
	bad := lookupPath(t, fs, "file")
	if a, err := fs.Stat(bad); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "i_size") {
		t.Errorf("Stat of a negative size = %+v, %v; want ErrCorrupt naming i_size", a, err)
	}
	if _, err := fs.Open(bad); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Open of a negative size: %v, want ErrCorrupt", err)
	}
	if _, err := os.Lstat(filepath.Join(mnt, "file")); !errors.Is(err, syscall.EIO) {
		t.Errorf("fuse2fs lstat of the negative size: %v, want EIO", err)
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(mnt, "huge"), &st); err != nil {
		t.Fatal(err)
	}
	huge := lookupPath(t, fs, "huge")
	if a, err := fs.Stat(huge); err != nil || a.Size != st.Size || a.Size != 1<<40+7 {
		t.Errorf("Stat huge = %d, %v; fuse2fs %d", a.Size, err, st.Size)
	}
	f, err := fs.Open(huge)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 16)
	if n, err := f.ReadAt(b, 0); n != 16 || err != nil || string(b[:7]) != "sparse\n" || b[7] != 0 {
		t.Errorf("ReadAt huge = %q, %v", b[:n], err)
	}
}
