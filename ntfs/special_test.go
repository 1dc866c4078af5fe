package ntfs

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// copyImage copies a cached image so a test can damage or edit it.
func copyImage(t *testing.T, img string) string {
	t.Helper()
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(img))
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// ntfsinfoVolumeFlags returns the $VOLUME_INFORMATION flags ntfsinfo -f -m
// prints ("Volume Flags: 0x0001").
func ntfsinfoVolumeFlags(t *testing.T, img string) uint16 {
	t.Helper()
	out, err := exec.Command("ntfsinfo", "-f", "-m", img).CombinedOutput()
	if err != nil {
		t.Fatalf("ntfsinfo -f -m: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Volume Flags: 0x([0-9a-fA-F]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("ntfsinfo -f -m: no volume flags in\n%s", out)
	}
	v, _ := strconv.ParseUint(string(m[1]), 16, 16)
	return uint16(v)
}

// TestDirtyVolume marks a copy of a clean volume dirty with ntfsfix (which
// schedules a chkdsk by setting VOLUME_IS_DIRTY) and checks Info against
// the flags ntfsinfo reads, before and after.
func TestDirtyVolume(t *testing.T) {
	needTools(t, "ntfsfix", "ntfsinfo")
	img := copyImage(t, buildImage(t, "special.sh"))
	check := func(wantDirty bool) {
		t.Helper()
		flags := ntfsinfoVolumeFlags(t, img)
		if flags&1 != 0 != wantDirty {
			t.Fatalf("ntfsinfo volume flags 0x%04x; the image is not in the state this test needs (dirty %v)", flags, wantDirty)
		}
		info := openImage(t, img, nil).Info()
		if info.Dirty != wantDirty || info.VolumeFlags != flags {
			t.Errorf("Info: Dirty %v VolumeFlags 0x%04x, ntfsinfo flags 0x%04x", info.Dirty, info.VolumeFlags, flags)
		}
	}
	check(false)
	if out, err := exec.Command("ntfsfix", img).CombinedOutput(); err != nil {
		t.Fatalf("ntfsfix: %v\n%s", err, out)
	}
	check(true)
	if out, err := exec.Command("ntfsfix", "-d", img).CombinedOutput(); err != nil {
		t.Fatalf("ntfsfix -d: %v\n%s", err, out)
	}
	check(false)
}

// setAttrFlags ORs flags into the ATTR_RECORD flags of the first attribute
// of type typ in MFT record ino of img, the way a hex editor would: the
// record is located from the boot sector (the test image's $MFT is one
// run) and found by walking attribute headers; fixups are untouched, so
// the edited bytes must not be a sector's last two.
func setAttrFlags(t *testing.T, img string, ino int64, typ uint32, flags uint16) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	boot := make([]byte, 512)
	if _, err := f.ReadAt(boot, 0); err != nil {
		t.Fatal(err)
	}
	cs := int64(binary.LittleEndian.Uint16(boot[0x0b:])) * int64(boot[0x0d])
	recSize := int64(1) << uint(-int8(boot[0x40])) // test images use 1 KiB records (0xf6)
	off := int64(binary.LittleEndian.Uint64(boot[0x30:]))*cs + ino*recSize
	rec := make([]byte, recSize)
	if _, err := f.ReadAt(rec, off); err != nil {
		t.Fatal(err)
	}
	if string(rec[:4]) != "FILE" || int64(binary.LittleEndian.Uint32(rec[0x2c:])) != ino {
		t.Fatalf("no FILE record %d at offset %d", ino, off)
	}
	for a := int(binary.LittleEndian.Uint16(rec[0x14:])); a+16 <= len(rec); {
		at := binary.LittleEndian.Uint32(rec[a:])
		if at == atEnd {
			break
		}
		if at == typ {
			p := a + 0x0c
			if p%512 >= 510 || (p+1)%512 >= 510 {
				t.Fatalf("attribute flags at %d overlap a fixup", p)
			}
			binary.LittleEndian.PutUint16(rec[p:], binary.LittleEndian.Uint16(rec[p:])|flags)
			if _, err := f.WriteAt(rec[p:p+2], off+int64(p)); err != nil {
				t.Fatal(err)
			}
			return
		}
		a += int(binary.LittleEndian.Uint32(rec[a+4:]))
	}
	t.Fatalf("MFT record %d has no attribute 0x%x", ino, typ)
}

// TestUnreadableFiles checks that an EFS-encrypted file and a cloud
// placeholder are reported unreadable with ErrEncrypted and ErrOffline,
// while ntfs-3g, the oracle, cannot read them either.
func TestUnreadableFiles(t *testing.T) {
	needTools(t, "ntfsinfo")
	img := copyImage(t, buildImage(t, "special.sh"))
	fsys := openImage(t, img, nil)
	efs, err := fsys.Lookup(fsys.Root(), "efs.bin")
	if err != nil {
		t.Fatal(err)
	}
	setAttrFlags(t, img, int64(efs.Ino), atData, attrEncrypted)
	out, err := exec.Command("ntfsinfo", "-f", "-v", "-i", strconv.FormatUint(efs.Ino, 10), img).Output()
	if err != nil {
		t.Fatalf("ntfsinfo: %v", err)
	}
	data := string(out[strings.Index(string(out), "Dumping attribute $DATA"):])
	if !strings.Contains(data, "Attribute flags:\t 0x4000") {
		t.Fatalf("ntfsinfo does not see the encrypted flag:\n%s", data)
	}

	fsys = openImage(t, img, nil)
	mnt := mountNTFS3G(t, img)
	if _, err := os.ReadFile(mnt + "/efs.bin"); err == nil {
		t.Error("ntfs-3g reads efs.bin; the fixture is not encrypted for it")
	}
	if _, err := fsys.Open(efs.Ino); !errors.Is(err, ErrEncrypted) {
		t.Errorf("Open efs.bin: %v, want ErrEncrypted", err)
	}
	if at, err := fsys.Stat(efs.Ino); err != nil || at.Size != 30000 || at.Mode&0o170000 != sIFREG {
		t.Errorf("Stat efs.bin: %+v (%v)", at, err)
	}

	cloud, err := fsys.Lookup(fsys.Root(), "cloud.bin")
	if err != nil {
		t.Fatal(err)
	}
	// ntfs-3g shows an unknown tag as a symlink to an explanation, so
	// the data cannot be read through it; we keep the file regular (its
	// name, size and times are real) and refuse to open it.
	if target, err := os.Readlink(mnt + "/cloud.bin"); err != nil || !strings.Contains(target, "0x9000001a") {
		t.Errorf("ntfs-3g: cloud.bin -> %q (%v)", target, err)
	}
	if _, err := os.ReadFile(mnt + "/cloud.bin"); err == nil {
		t.Error("ntfs-3g reads cloud.bin")
	}
	if _, err := fsys.Open(cloud.Ino); !errors.Is(err, ErrOffline) {
		t.Errorf("Open cloud.bin: %v, want ErrOffline", err)
	}
	if at, err := fsys.Stat(cloud.Ino); err != nil || at.Mode&0o170000 != sIFREG || at.Size != 123456 {
		t.Errorf("Stat cloud.bin: %+v (%v)", at, err)
	}
	want, err := lgetxattr(mnt+"/cloud.bin", "system.ntfs_reparse_data")
	got, gerr := fsys.GetXattr(cloud.Ino, "system.ntfs_reparse_data")
	if err != nil || gerr != nil || string(got) != string(want) {
		t.Errorf("reparse data: ours %x (%v), ntfs-3g %x (%v)", got, gerr, want, err)
	}
	dir, err := fsys.Lookup(fsys.Root(), "cloud-dir")
	if err != nil || dir.Mode != sIFDIR {
		t.Errorf("cloud-dir: %+v (%v), want a directory", dir, err)
	}
	plain, err := fsys.Lookup(fsys.Root(), "plain.bin")
	if err != nil {
		t.Fatal(err)
	}
	if f, err := fsys.Open(plain.Ino); err != nil || string(readAllFile(t, f)) != "plain\n" {
		t.Errorf("plain.bin: %v", err)
	}
}
