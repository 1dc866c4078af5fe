package ntfs

import (
	"bytes"
	"crypto/sha256"
	"errors"
	iofs "io/fs"
	"os"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// imageVariants are the geometries every comparison runs on.
var imageVariants = []struct {
	name string
	args []string
}{
	{"4k-clusters-1k-records", nil},
	{"512-byte-clusters", []string{"-c", "512"}},
	{"64k-clusters", []string{"-c", "65536"}},
	{"4k-records", []string{"-s", "4096"}},
}

// lgetxattr reads an extended attribute without following symlinks.
func lgetxattr(path, name string) ([]byte, error) {
	p, _ := syscall.BytePtrFromString(path)
	n, _ := syscall.BytePtrFromString(name)
	buf := make([]byte, 1<<20)
	r, _, e := syscall.Syscall6(syscall.SYS_LGETXATTR, uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(n)),
		uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	if e != 0 {
		return nil, e
	}
	return buf[:r], nil
}

func llistxattr(path string) ([]string, error) {
	p, _ := syscall.BytePtrFromString(path)
	buf := make([]byte, 1<<16)
	r, _, e := syscall.Syscall(syscall.SYS_LLISTXATTR, uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	if e != 0 {
		return nil, e
	}
	var out []string
	for _, s := range strings.Split(string(buf[:r]), "\x00") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

func TestAgainstNTFS3GMount(t *testing.T) {
	for _, v := range imageVariants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			img := buildImage(t, "basic.sh", v.args...)
			mnt := mountNTFS3G(t, img)
			fsys := openImage(t, img, &Options{MountPoint: mnt, FileMode: 0o777, DirMode: 0o777})
			compareTree(t, fsys, mnt)
		})
	}
}

// compareTree checks names, stat, link targets, contents and xattrs of
// every file against the ntfs-3g mount at mnt.
func compareTree(t *testing.T, fsys *FS, mnt string) {
	checked := 0
	var check func(ino uint64, path string)
	check = func(ino uint64, path string) {
		ours, err := fsys.ReadDir(ino)
		if err != nil {
			t.Fatalf("ReadDir %s: %v", path, err)
		}
		theirs, err := os.ReadDir(mnt + path)
		if err != nil {
			t.Fatal(err)
		}
		var a, b []string
		for _, de := range ours {
			a = append(a, de.Name)
		}
		for _, de := range theirs {
			b = append(b, de.Name())
		}
		sort.Strings(a)
		sort.Strings(b)
		if strings.Join(a, "\n") != strings.Join(b, "\n") {
			t.Errorf("directory %q: names differ\nours:   %q\nntfs-3g: %q", path, a, b)
		}
		for _, de := range ours {
			p := path + "/" + de.Name
			compareEntry(t, fsys, de, mnt+p, p)
			checked++
			if de.Mode == sIFDIR {
				check(de.Ino, p)
			}
		}
	}
	check(fsys.Root(), "")
	if checked < 100 {
		t.Fatalf("only %d entries compared", checked)
	}
}

func compareEntry(t *testing.T, fsys *FS, de DirEntry, real, p string) {
	var st syscall.Stat_t
	if err := syscall.Lstat(real, &st); err != nil {
		t.Errorf("lstat %s: %v", p, err)
		return
	}
	at, err := fsys.Stat(de.Ino)
	if err != nil {
		t.Errorf("Stat %s: %v", p, err)
		return
	}
	ts := func(s syscall.Timespec) time.Time { return time.Unix(s.Sec, s.Nsec).UTC() }
	if de.Mode != at.Mode&0o170000 {
		t.Errorf("%s: DirEntry mode %o, Stat mode %o", p, de.Mode, at.Mode)
	}
	got := []any{at.Ino, at.Mode, at.Nlink, at.Size, at.Blocks, at.Rdev, at.Atime, at.Mtime, at.Ctime}
	want := []any{st.Ino, st.Mode, uint32(st.Nlink), st.Size, st.Blocks, st.Rdev, ts(st.Atim), ts(st.Mtim), ts(st.Ctim)}
	names := []string{"ino", "mode", "nlink", "size", "blocks", "rdev", "atime", "mtime", "ctime"}
	// ntfs-3g reports link_count, which counts a DOS 8.3 alias as a link;
	// we count the names a directory listing shows.
	n, err := fsys.inode(de.Ino)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range n.fileNames() {
		if f.Namespace == nsDOS {
			want[2] = want[2].(uint32) - 1
		}
	}
	for i := range got {
		if !equalish(got[i], want[i]) {
			t.Errorf("%s: %s ours %v, ntfs-3g %v", p, names[i], got[i], want[i])
		}
	}
	switch at.Mode & 0o170000 {
	case sIFLNK:
		ours, err := fsys.Readlink(de.Ino)
		theirs, err2 := os.Readlink(real)
		if err != nil || err2 != nil || ours != theirs {
			t.Errorf("%s: readlink ours %q (%v), ntfs-3g %q (%v)", p, ours, err, theirs, err2)
		}
	case sIFREG:
		f, err := fsys.Open(de.Ino)
		if err != nil {
			t.Errorf("Open %s: %v", p, err)
			break
		}
		theirs, err := os.ReadFile(real)
		if err != nil {
			t.Errorf("read %s through ntfs-3g: %v", p, err)
			break
		}
		if ours := readAllFile(t, f); sha256.Sum256(ours) != sha256.Sum256(theirs) {
			t.Errorf("%s: content differs (ours %d bytes, ntfs-3g %d)", p, len(ours), len(theirs))
		}
	}
	compareXattrs(t, fsys, de.Ino, real, p)
}

func equalish(a, b any) bool {
	switch x := a.(type) {
	case uint64:
		return x == toU64(b)
	case uint32:
		return uint64(x) == toU64(b)
	case int64:
		return uint64(x) == toU64(b)
	case time.Time:
		return x.Equal(b.(time.Time))
	}
	return a == b
}

func toU64(v any) uint64 {
	switch x := v.(type) {
	case uint64:
		return x
	case uint32:
		return uint64(x)
	case int64:
		return uint64(x)
	}
	return ^uint64(0)
}

func compareXattrs(t *testing.T, fsys *FS, ino uint64, real, p string) {
	ours, err := fsys.ListXattr(ino)
	if err != nil {
		t.Errorf("ListXattr %s: %v", p, err)
		return
	}
	theirs, err := llistxattr(real)
	if err != nil {
		t.Errorf("llistxattr %s: %v", p, err)
		return
	}
	sort.Strings(ours)
	sort.Strings(theirs)
	if strings.Join(ours, ",") != strings.Join(theirs, ",") {
		t.Errorf("%s: xattr names ours %q, ntfs-3g %q", p, ours, theirs)
	}
	for _, name := range append(theirs, systemXattrs...) {
		if name == "system.ntfs_object_id" {
			continue // ntfs-3g only answers it for files that have one; checked below
		}
		want, werr := lgetxattr(real, name)
		got, gerr := fsys.GetXattr(ino, name)
		if werr != nil {
			if !errors.Is(werr, syscall.ENODATA) {
				t.Errorf("%s: getxattr %s through ntfs-3g: %v", p, name, werr)
			} else if gerr == nil || !errors.Is(gerr, iofs.ErrNotExist) {
				t.Errorf("%s: %s: ntfs-3g has none, ours %x (%v)", p, name, got, gerr)
			}
			continue
		}
		if gerr != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %s ours %x (%v), ntfs-3g %x", p, name, got, gerr, want)
		}
	}
}
