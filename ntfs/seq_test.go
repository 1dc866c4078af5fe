package ntfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

var reRecordSeq = regexp.MustCompile(`MFT Record Seq\. Numb\.:\s+(\d+)`)

// ntfsinfoSeq returns the sequence number ntfsinfo reads in MFT record ino.
func ntfsinfoSeq(t *testing.T, img string, ino uint64) uint16 {
	t.Helper()
	out, err := exec.Command("ntfsinfo", "-f", "-i", strconv.FormatUint(ino, 10), img).CombinedOutput()
	if err != nil {
		t.Fatalf("ntfsinfo -i %d: %v\n%s", ino, err, out)
	}
	m := reRecordSeq.FindSubmatch(out)
	if m == nil {
		t.Fatalf("ntfsinfo -i %d: no sequence number in\n%s", ino, out)
	}
	n, _ := strconv.ParseUint(string(m[1]), 10, 16)
	return uint16(n)
}

// TestSeq deletes a file through ntfs-3g and creates another that gets its
// MFT record: Stat must give the same record number and a new sequence
// number, as ntfsinfo reads them, while a renamed file keeps both.
func TestSeq(t *testing.T) {
	needTools(t, "mkntfs", "ntfs-3g", "ntfsinfo")
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "b.img"), filepath.Join(dir, "mnt")
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	os.Mkdir(mnt, 0o755)
	// Only a test that failed while mounted leaves it mounted.
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	run("truncate", "-s", "8M", img)
	run("mkntfs", "-F", "-Q", "-f", "-q", img)
	write := func(p string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(mnt, p), []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("ntfs-3g", img, mnt)
	write("old")
	write("moved")
	run("umount", mnt)
	before := filepath.Join(dir, "a.img")
	run("cp", img, before)
	run("ntfs-3g", img, mnt)
	if err := os.Remove(filepath.Join(mnt, "old")); err != nil {
		t.Fatal(err)
	}
	write("new")
	if err := os.Rename(filepath.Join(mnt, "moved"), filepath.Join(mnt, "renamed")); err != nil {
		t.Fatal(err)
	}
	run("umount", mnt)

	stat := func(img, name string) Attr {
		t.Helper()
		fs := openImage(t, img, nil)
		de, err := fs.Lookup(fs.Root(), name)
		if err != nil {
			t.Fatal(err)
		}
		a, err := fs.Stat(de.Ino)
		if err != nil {
			t.Fatal(err)
		}
		if w := ntfsinfoSeq(t, img, a.Ino); a.Seq != w {
			t.Errorf("%s: record %d Seq %d, ntfsinfo %d", name, a.Ino, a.Seq, w)
		}
		return a
	}
	old, moved := stat(before, "old"), stat(before, "moved")
	nw, renamed := stat(img, "new"), stat(img, "renamed")
	if nw.Ino != old.Ino || nw.Seq == old.Seq {
		t.Errorf("new file: record %d seq %d; the deleted one had record %d seq %d (want the same record, another seq)",
			nw.Ino, nw.Seq, old.Ino, old.Seq)
	}
	if renamed.Ino != moved.Ino || renamed.Seq != moved.Seq {
		t.Errorf("renamed file: record %d seq %d, was %d seq %d", renamed.Ino, renamed.Seq, moved.Ino, moved.Seq)
	}
}
