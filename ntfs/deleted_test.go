package ntfs

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// DeletedImage makes an 8 MiB NTFS image and deletes files from it through
// ntfs-3g: big.bin (non-resident) and small.txt (resident) stay
// recoverable; reused.bin's clusters go to new.bin, written after it and
// spacer.bin (the lowest MFT record, which new.bin takes) were removed:
// ntfs-3g allocates from the end of the last allocated cluster, and
// reused.bin is the last file written.
// It returns the image and the content of each deleted file by name.
func DeletedImage(t testing.TB) (string, map[string][]byte) {
	t.Helper()
	needTools(t, "mkntfs", "ntfs-3g")
	dir := t.TempDir()
	img := filepath.Join(dir, "ntfs.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 8<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkntfs", "-q", "-F", "-f", img).CombinedOutput(); err != nil {
		t.Fatalf("mkntfs: %v\n%s", err, out)
	}
	rng := rand.New(rand.NewSource(19))
	files := map[string][]byte{}
	var order []string
	for _, f := range []struct {
		name string
		n    int
	}{{"spacer.bin", 4096}, {"big.bin", 20000}, {"small.txt", 40}, {"keep.bin", 5000}, {"reused.bin", 30000}} {
		b := make([]byte, f.n)
		rng.Read(b)
		files[f.name] = b
		order = append(order, f.name)
	}
	ntfs3g(t, img, func(mnt string) {
		for _, name := range order {
			if err := os.WriteFile(filepath.Join(mnt, name), files[name], 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
	ntfs3g(t, img, func(mnt string) {
		for _, name := range []string{"spacer.bin", "reused.bin"} {
			if err := os.Remove(filepath.Join(mnt, name)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(mnt, "new.bin"), bytes.Repeat([]byte("N"), 30000), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	ntfs3g(t, img, func(mnt string) {
		for _, name := range []string{"big.bin", "small.txt"} {
			if err := os.Remove(filepath.Join(mnt, name)); err != nil {
				t.Fatal(err)
			}
		}
	})
	delete(files, "keep.bin")
	delete(files, "spacer.bin")
	return img, files
}

// ntfs3g mounts img read-write with ntfs-3g while do runs.
func ntfs3g(t testing.TB, img string, do func(mnt string)) {
	t.Helper()
	mnt := t.TempDir()
	if out, err := exec.Command("ntfs-3g", img, mnt).CombinedOutput(); err != nil {
		t.Fatalf("ntfs-3g: %v\n%s", err, out)
	}
	defer func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Fatalf("umount %s: %v\n%s", mnt, err, out)
		}
	}()
	do(mnt)
}

func TestDeletedRecords(t *testing.T) {
	img, files := DeletedImage(t)
	needTools(t, "icat", "fls", "istat")
	fsys := openImage(t, img, nil)
	ds, err := fsys.DeletedRecords()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Deleted{}
	for _, d := range ds {
		t.Logf("%q record %d parent %d: %s %s size %d", d.Name, d.Attr.Ino, d.Parent, d.State, d.Note, d.Attr.Size)
		got[d.Name] = d
	}
	want := map[string]DeletedState{"big.bin": Recoverable, "small.txt": Recoverable, "reused.bin": Reused}
	if len(got) != len(want) {
		t.Errorf("%d deleted records, want %d", len(got), len(want))
	}
	for name, st := range want {
		d, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: not listed", name)
			continue
		case d.State != st:
			t.Errorf("%s: %s (%s), want %s", name, d.State, d.Note, st)
		case d.Parent != recordRoot || d.Attr.Size != int64(len(files[name])):
			t.Errorf("%s: parent %d size %d, want %d %d", name, d.Parent, d.Attr.Size, recordRoot, len(files[name]))
		}
		checkDeletedRead(t, fsys, img, d, files[name])
		checkIstat(t, img, d)
	}
	fls := flsDeleted(t, img)
	if len(fls) != len(want) {
		t.Errorf("fls -d lists %v, want %d files", fls, len(want))
	}
	for rec, name := range fls {
		if d, ok := got[name]; !ok || d.Attr.Ino != rec {
			t.Errorf("fls -d lists %s as record %d; we have %+v", name, rec, d)
		}
	}
}

// checkDeletedRead reads d and compares it with icat and the original.
func checkDeletedRead(t *testing.T, fsys *FS, img string, d Deleted, orig []byte) {
	t.Helper()
	f, err := fsys.OpenDeleted(d.Attr.Ino)
	if d.State != Recoverable {
		if !errors.Is(err, ErrNotRecoverable) {
			t.Errorf("OpenDeleted %d (%s): %v, want ErrNotRecoverable", d.Attr.Ino, d.State, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("OpenDeleted %d: %v", d.Attr.Ino, err)
	}
	b := readAllFile(t, f)
	want, err := exec.Command("icat", img, strconv.FormatUint(d.Attr.Ino, 10)).Output()
	if err != nil {
		t.Fatalf("icat %d: %v", d.Attr.Ino, err)
	}
	if !bytes.Equal(b, want) || !bytes.Equal(b, orig) {
		t.Errorf("record %d (%s): %d bytes, icat %d, original %d; equal icat %v, original %v",
			d.Attr.Ino, d.Name, len(b), len(want), len(orig), bytes.Equal(b, want), bytes.Equal(b, orig))
	}
}

// flsDeleted maps the names `fls -d -r` lists as deleted files in the root
// to their MFT records, leaving out $OrphanFiles.
func flsDeleted(t *testing.T, img string) map[uint64]string {
	out, err := exec.Command("fls", "-d", "-r", img).Output()
	if err != nil {
		t.Fatalf("fls -d: %v", err)
	}
	m := map[uint64]string{}
	for _, line := range strings.Split(string(out), "\n") {
		head, name, ok := strings.Cut(line, "\t")
		f := strings.Fields(head)
		if !ok || len(f) < 3 || f[1] != "*" || strings.HasPrefix(name, "$OrphanFiles") {
			continue
		}
		rec, _, _ := strings.Cut(strings.TrimSuffix(f[2], ":"), "-")
		if n, err := strconv.ParseUint(rec, 10, 64); err == nil {
			m[n] = name
		}
	}
	return m
}

// checkIstat compares d with what The Sleuth Kit's istat says of its record.
func checkIstat(t *testing.T, img string, d Deleted) {
	t.Helper()
	out, err := exec.Command("istat", img, strconv.FormatUint(d.Attr.Ino, 10)).Output()
	if err != nil {
		t.Fatalf("istat %d: %v", d.Attr.Ino, err)
	}
	for _, want := range []string{
		"\nNot Allocated File\n",
		"Sequence: " + strconv.Itoa(int(d.Attr.Seq)) + "\n",
		"\nFile Modified:\t" + d.Attr.Mtime.UTC().Format("2006-01-02 15:04:05.000000000") + " (UTC)\n",
		"Name: " + d.Name + "\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("record %d: istat lacks %q:\n%s", d.Attr.Ino, want, out)
		}
	}
}
