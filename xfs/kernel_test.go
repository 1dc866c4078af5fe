package xfs

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// kernelMount loop-mounts img read-only without log recovery.
func kernelMount(t *testing.T, img string) string {
	t.Helper()
	needKernelXFS(t)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "xfs", "-o", "ro,loop,norecovery", img, dir).CombinedOutput(); err != nil {
		t.Fatalf("loop mount: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir
}

func llistxattr(p string, buf []byte) (int, error) {
	a, _ := syscall.BytePtrFromString(p)
	n, _, e := syscall.Syscall(syscall.SYS_LLISTXATTR, uintptr(unsafe.Pointer(a)), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func lgetxattr(p, name string, buf []byte) (int, error) {
	a, _ := syscall.BytePtrFromString(p)
	b, _ := syscall.BytePtrFromString(name)
	n, _, e := syscall.Syscall6(syscall.SYS_LGETXATTR, uintptr(unsafe.Pointer(a)), uintptr(unsafe.Pointer(b)), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// Buffers of kernelXattrs, which runs on one goroutine.
var xattrBuf, valueBuf [1 << 16]byte

func kernelXattrs(t *testing.T, p string) ([]string, map[string][]byte) {
	buf := xattrBuf[:]
	n, err := llistxattr(p, buf)
	if err != nil {
		t.Fatalf("listxattr %s: %v", p, err)
	}
	var names []string
	vals := map[string][]byte{}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		m, err := lgetxattr(p, name, valueBuf[:])
		if err != nil {
			t.Fatalf("getxattr %s %s: %v", p, name, err)
		}
		names, vals[name] = append(names, name), append([]byte(nil), valueBuf[:m]...)
	}
	return names, vals
}

// TestKernelMount compares every inode of kernel-made volumes with what
// Linux shows through a read-only loop mount: the directory listings,
// stat fields with nanosecond times, xattrs (ACLs in the kernel's format,
// in the kernel's order), content byte for byte, and symlink targets.
func TestKernelMount(t *testing.T) {
	for _, v := range []string{"v5", "v5-1k", "v5-plain"} {
		t.Run(v, func(t *testing.T) {
			img := testImage(t, v)
			mnt := kernelMount(t, img)
			fs := openImage(t, img, nil)
			if info := fs.Info(); info.DirtyLog || len(info.Warnings) > 0 {
				t.Errorf("clean volume: %+v", info)
			}
			tree := walk(t, fs)
			compareListings(t, fs, mnt, tree)
			for p, e := range tree {
				compareInode(t, fs, filepath.Join(mnt, p), p, e)
			}
		})
	}
}

// compareListings checks that the kernel lists the same names per directory.
func compareListings(t *testing.T, fs *FS, mnt string, tree map[string]DirEntry) {
	var kernel []string
	filepath.Walk(mnt, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if p != mnt {
			kernel = append(kernel, strings.TrimPrefix(p, mnt))
		}
		return nil
	})
	var ours []string
	for p := range tree {
		ours = append(ours, p)
	}
	sort.Strings(kernel)
	sort.Strings(ours)
	if strings.Join(kernel, "\n") != strings.Join(ours, "\n") {
		t.Fatalf("listing: %d paths, kernel %d", len(ours), len(kernel))
	}
}

func compareInode(t *testing.T, fs *FS, kp, p string, e DirEntry) {
	var st syscall.Stat_t
	if err := syscall.Lstat(kp, &st); err != nil {
		t.Errorf("lstat %s: %v", p, err)
		return
	}
	a, err := fs.Stat(e.Ino)
	if err != nil {
		t.Errorf("Stat %s: %v", p, err)
		return
	}
	if st.Ino != a.Ino || st.Mode != a.Mode || e.Mode != a.Mode&sIFMT || uint32(st.Nlink) != a.Nlink || st.Uid != a.Uid ||
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
		f, err := fs.Open(e.Ino)
		if err != nil {
			t.Errorf("Open %s: %v", p, err)
			return
		}
		got, err := io.ReadAll(io.NewSectionReader(f, 0, f.Size()))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: content differs from the kernel's (%v)", p, err)
		}
	case sIFLNK:
		want, _ := os.Readlink(kp)
		if got, err := fs.Readlink(e.Ino); err != nil || got != want {
			t.Errorf("%s: Readlink %q, %v; kernel %q", p, got, err, want)
		}
	}
}
