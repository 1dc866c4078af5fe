package ext4

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// kernelMount loop-mounts img read-only (root is required under CI), or
// skips when this kernel lacks what the variant needs (ext2, casefold's
// utf8 tables): debugfs remains the oracle.
func kernelMount(t *testing.T, img string) string {
	t.Helper()
	testenv.NeedRoot(t)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-o", "ro,loop,noload", img, dir).CombinedOutput(); err != nil {
		t.Skipf("this kernel cannot mount it: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir
}

// tryKernelMount is kernelMount for an extra oracle: "" when Linux cannot
// loop-mount here.
func tryKernelMount(t *testing.T, img string) string {
	t.Helper()
	if os.Getuid() != 0 {
		return ""
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-o", "ro,loop,noload", img, dir).CombinedOutput(); err != nil {
		t.Logf("no kernel oracle: loop mount: %v: %s", err, out)
		return ""
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir
}

// llistxattr and lgetxattr do not follow symlinks (package syscall only
// has the following variants).
func llistxattr(path string, buf []byte) (int, error) {
	p, _ := syscall.BytePtrFromString(path)
	n, _, e := syscall.Syscall(syscall.SYS_LLISTXATTR, uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func lgetxattr(path, name string, buf []byte) (int, error) {
	p, _ := syscall.BytePtrFromString(path)
	a, _ := syscall.BytePtrFromString(name)
	n, _, e := syscall.Syscall6(syscall.SYS_LGETXATTR, uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(a)), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func kernelXattrs(t *testing.T, path string) (names []string, vals map[string][]byte) {
	buf := make([]byte, 1<<16)
	n, err := llistxattr(path, buf)
	if err != nil {
		t.Fatalf("listxattr %s: %v", path, err)
	}
	vals = map[string][]byte{}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		v := make([]byte, 1<<16)
		m, err := lgetxattr(path, name, v)
		if err != nil {
			t.Fatalf("getxattr %s %s: %v", path, name, err)
		}
		names = append(names, name)
		vals[name] = v[:m]
	}
	return names, vals
}

// TestKernelMount compares every inode with what Linux itself shows through
// a read-only loop mount: stat fields with nanosecond times, xattrs as
// getfattr sees them (ACLs in the kernel's format), content and links.
func TestKernelMount(t *testing.T) {
	for _, v := range []string{"ext4", "ext2", "inline", "eainode", "casefold", "unwritten", "b1024", "bigalloc", "bigalloc-1k"} {
		t.Run(v, func(t *testing.T) {
			img := testImage(t, v)
			mnt := kernelMount(t, img)
			fs := openImage(t, img, nil)
			tree := walk(t, fs)
			for _, p := range sample(tree) {
				e := tree[p]
				kp := filepath.Join(mnt, p)
				var st syscall.Stat_t
				if err := syscall.Lstat(kp, &st); err != nil {
					t.Errorf("lstat %s: %v", p, err)
					continue
				}
				a, err := fs.Stat(e.Ino)
				if err != nil {
					t.Errorf("Stat %s: %v", p, err)
					continue
				}
				if st.Ino != a.Ino || st.Mode != a.Mode || uint32(st.Nlink) != a.Nlink || st.Uid != a.Uid ||
					st.Gid != a.Gid || st.Size != a.Size || st.Blocks != a.Blocks || st.Rdev != a.Rdev ||
					st.Mtim.Sec != a.Mtime.Unix() || st.Mtim.Nsec != int64(a.Mtime.Nanosecond()) ||
					st.Ctim.Sec != a.Ctime.Unix() || st.Ctim.Nsec != int64(a.Ctime.Nanosecond()) ||
					st.Atim.Sec != a.Atime.Unix() || st.Atim.Nsec != int64(a.Atime.Nanosecond()) {
					t.Errorf("%s: Stat %+v\nkernel %+v", p, a, st)
				}
				names, vals := kernelXattrs(t, kp)
				got, err := fs.ListXattr(e.Ino)
				if err != nil || strings.Join(got, ",") != strings.Join(names, ",") {
					t.Errorf("%s: ListXattr %q, %v; kernel %q", p, got, err, names)
				}
				for _, n := range names {
					if g, err := fs.GetXattr(e.Ino, n); err != nil || !bytes.Equal(g, vals[n]) {
						t.Errorf("%s: GetXattr %s = %x, %v; kernel %x", p, n, g, err, vals[n])
					}
				}
				switch e.Mode {
				case sIFREG:
					want, err := os.ReadFile(kp)
					if err != nil {
						t.Fatal(err)
					}
					f, _ := fs.Open(e.Ino)
					got := make([]byte, f.Size())
					f.ReadAt(got, 0)
					if !bytes.Equal(got, want) {
						t.Errorf("%s: content differs from the kernel's", p)
					}
				case sIFLNK:
					want, _ := os.Readlink(kp)
					if got, err := fs.Readlink(e.Ino); err != nil || got != want {
						t.Errorf("%s: Readlink %q, %v; kernel %q", p, got, err, want)
					}
				}
			}
			if v == "casefold" {
				// The kernel resolves names case-insensitively here too.
				var st syscall.Stat_t
				if err := syscall.Lstat(filepath.Join(mnt, "cf", "mixedcase.txt"), &st); err != nil {
					t.Errorf("kernel casefold lookup: %v", err)
				}
				cf, _ := fs.Lookup(RootIno, "cf")
				if e, err := fs.Lookup(cf.Ino, "mixedcase.txt"); err != nil || e.Ino != st.Ino {
					t.Errorf("Lookup cf/mixedcase.txt = %v, %v; kernel inode %d", e, err, st.Ino)
				}
			}
		})
	}
}
