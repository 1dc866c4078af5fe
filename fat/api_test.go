package fat

import (
	"errors"
	iofs "io/fs"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestOptions checks uid/gid, masks, showexec and the time zone against
// the rules of Linux vfat and TSK's raw (UTC-labelled) wall-clock times.
func TestOptions(t *testing.T) {
	testenv.NeedTools(t, "fls", "istat")
	img := buildImage(t, "mkimage.sh", imageVariants[2].args...)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	fs := openImage(t, img, &Options{Uid: 1000, Gid: 100, Fmask: 0o027, Dmask: 0o027, ShowExec: true, Location: berlin})
	tsk := fls(t, img)
	for _, tc := range []struct {
		path string
		mode uint32
	}{
		{"RUN.BAT", modeReg | 0o750}, // showexec: .BAT keeps its execute bits
		{"big.bin", modeReg | 0o640},
		{"UPPER.TXT", modeReg | 0o440}, // read-only attribute
		{"sub", modeDir | 0o750},       // read-only attribute ignored on directories
		{"many", modeDir | 0o750},
	} {
		e, err := resolve(fs, tc.path)
		if err != nil {
			t.Fatal(err)
		}
		a, err := fs.Stat(e.Ino)
		if err != nil {
			t.Fatal(err)
		}
		if a.Mode != tc.mode || e.Mode != tc.mode || a.Uid != 1000 || a.Gid != 100 {
			t.Errorf("%s: mode %o (dirent %o) uid %d gid %d, want %o 1000 100", tc.path, a.Mode, e.Mode, a.Uid, a.Gid, tc.mode)
		}
		fields, _ := istat(t, img, tsk[tc.path].ino)
		want, err := time.ParseInLocation("2006-01-02 15:04:05", strings.TrimSuffix(fields["Written"], " (UTC)"), berlin)
		if err != nil {
			t.Fatal(err)
		}
		if !a.Mtime.Equal(want) || a.Mtime.Location() != berlin {
			t.Errorf("%s: mtime %v, want %v (istat's wall clock in Berlin)", tc.path, a.Mtime, want)
		}
	}
	root, err := fs.Stat(fs.Root())
	if err != nil {
		t.Fatal(err)
	}
	if root.Mode != modeDir|0o750 || !root.Mtime.Equal(time.Unix(0, 0)) {
		t.Errorf("root: mode %o mtime %v", root.Mode, root.Mtime)
	}
}

func TestErrors(t *testing.T) {
	img := buildImage(t, "mkimage.sh", imageVariants[0].args...)
	fs := openImage(t, img, nil)
	file, err := resolve(fs, "big.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Readlink(file.Ino); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("readlink: %v", err)
	}
	if x, err := fs.ListXattr(file.Ino); err != nil || len(x) != 0 {
		t.Errorf("listxattr: %v %v", x, err)
	}
	if _, err := fs.GetXattr(file.Ino, "user.x"); !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("getxattr: %v", err)
	}
	if _, err := fs.ReadDir(file.Ino); !errors.Is(err, ErrNotDir) {
		t.Errorf("readdir of a file: %v", err)
	}
	if _, err := fs.Lookup(file.Ino, "x"); !errors.Is(err, ErrNotDir) {
		t.Errorf("lookup in a file: %v", err)
	}
	long, err := resolve(fs, "ReadMe.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, ino := range []uint64{0, 2, 3, 1 << 62, long.Ino - 1} { // boot sector, FAT, far away, an LFN slot
		if _, err := fs.Stat(ino); !errors.Is(err, iofs.ErrNotExist) && !errors.Is(err, ErrCorrupt) {
			t.Errorf("stat %d: %v", ino, err)
		}
	}
	if _, err := fs.Lookup(fs.Root(), "."); !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("lookup '.': %v", err)
	}
	ext, err := fs.Extents(file.Ino)
	if err != nil || len(ext) == 0 {
		t.Errorf("extents: %v %v", ext, err)
	}
	f, _ := fs.Open(file.Ino)
	if n, err := f.ReadAt(make([]byte, 10), f.Size()-4); n != 4 || err == nil {
		t.Errorf("read across the end: %d, %v", n, err)
	}
}

// TestDirty sets the dirty bit Linux keeps in the boot sector; fsck.fat
// must notice it too.
func TestDirty(t *testing.T) {
	testenv.NeedTools(t, "fsck.fat")
	for _, tc := range []struct {
		variant int
		off     int
	}{{2, 37}, {4, 65}} { // BS_Reserved1 of FAT16 and FAT32
		img := patchImage(t, buildImage(t, "mkimage.sh", imageVariants[tc.variant].args...), func(b []byte) { b[tc.off] |= 0x01 })
		out, _ := runErr("fsck.fat", "-n", img)
		if !strings.Contains(out, "Dirty bit is set") {
			t.Fatalf("fsck.fat -n does not see the dirty bit:\n%s", out)
		}
		if info := openImage(t, img, nil).Info(); !info.Dirty {
			t.Errorf("%s: dirty bit set, Info says clean", imageVariants[tc.variant].name)
		}
	}
}
