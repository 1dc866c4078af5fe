package ext4

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

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// deletedImage builds an ext4 image and deletes files from it with the
// real tools: debugfs rm (unlink, inode and blocks freed, block map
// kept), debugfs kill_file (freed without unlinking), fuse2fs rm and,
// as root, the kernel's rm (both truncate first), and a file whose
// freed blocks a later debugfs write takes. It returns the image and the
// content of each file by name.
func deletedImage(t *testing.T) (img string, files map[string][]byte, names map[uint64]string) {
	testenv.NeedTools(t, "debugfs", "fuse2fs", "icat", "fls", "istat")
	testenv.NeedFUSE(t)
	src, dir := t.TempDir(), t.TempDir()
	rng := rand.New(rand.NewSource(19))
	files = map[string][]byte{}
	img = mkfsTree(t, src, "4M", "-b", "1024")
	// Written one by one in this order, the files get consecutive inodes
	// and blocks; spacer's inode is the lowest free one after the delete,
	// so the new file takes it and the blocks of spacer and reused.
	var cmds []string
	for _, f := range []struct {
		name string
		n    int
	}{{"spacer.bin", 4096}, {"reused.bin", 24576}, {"rm.bin", 20000}, {"kill.bin", 50001}, {"fuse.bin", 30000}, {"kern.bin", 40000}, {"keep.txt", 100}} {
		b := make([]byte, f.n)
		rng.Read(b)
		files[f.name] = b
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, "write "+p+" "+f.name)
	}
	debugfsW(t, img, cmds...)
	names = mkfsInodes(t, img)
	newer := filepath.Join(dir, "newer")
	if err := os.WriteFile(newer, bytes.Repeat([]byte("N"), 24576), 0o644); err != nil {
		t.Fatal(err)
	}
	debugfsW(t, img, "rm /spacer.bin", "rm /reused.bin", "write "+newer+" newer.bin")
	debugfsW(t, img, "rm /rm.bin", "kill_file /kill.bin")
	mnt := t.TempDir()
	if out, err := exec.Command("fuse2fs", img, mnt, "-o", "rw,fakeroot").CombinedOutput(); err != nil {
		t.Fatalf("fuse2fs: %v\n%s", err, out)
	}
	err := os.Remove(filepath.Join(mnt, "fuse.bin"))
	if out, uerr := exec.Command("umount", mnt).CombinedOutput(); uerr != nil {
		t.Fatalf("umount fuse2fs: %v\n%s", uerr, out)
	}
	if err != nil {
		t.Fatal(err)
	}
	if os.Getuid() == 0 {
		if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
			t.Logf("no kernel delete: loop mount: %v: %s", err, out)
		} else {
			err := os.Remove(filepath.Join(mnt, "kern.bin"))
			if out, uerr := exec.Command("umount", mnt).CombinedOutput(); uerr != nil {
				t.Fatalf("umount: %v\n%s", uerr, out)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return img, files, names
}

func TestDeletedInodes(t *testing.T) {
	img, files, before := deletedImage(t)
	fs := openImage(t, img, nil)
	ds, err := fs.DeletedInodes()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Deleted{}
	for _, d := range ds {
		name := before[d.Attr.Ino]
		got[name] = d
		t.Logf("%s ino %d: %s %s size %d dtime %v", name, d.Attr.Ino, d.State, d.Note, d.Attr.Size, d.Dtime)
	}
	want := map[string]DeletedState{"rm.bin": Recoverable, "kill.bin": Recoverable, "fuse.bin": NoData, "reused.bin": Reused}
	if _, kern := got["kern.bin"]; kern || os.Getuid() == 0 {
		want["kern.bin"] = NoData
	}
	if len(got) != len(want) {
		t.Errorf("got %d deleted inodes, want %d: %v", len(got), len(want), got)
	}
	for name, st := range want {
		d, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: not listed", name)
			continue
		case d.State != st:
			t.Errorf("%s: state %s (%s), want %s", name, d.State, d.Note, st)
		case d.Dtime.IsZero():
			t.Errorf("%s: no dtime", name)
		}
		checkDeletedRead(t, fs, img, d, files[name])
		checkIstat(t, img, d)
	}
	// Every deleted regular file TSK names is listed.
	for ino := range flsDeleted(t, img) {
		if before[ino] == "" {
			t.Errorf("fls -d lists inode %d, not one of the files made", ino)
		} else if _, ok := got[before[ino]]; !ok {
			t.Errorf("fls -d lists inode %d (%s), DeletedInodes does not", ino, before[ino])
		}
	}
}

// checkDeletedRead opens d and compares it with icat and the original.
func checkDeletedRead(t *testing.T, fs *FS, img string, d Deleted, orig []byte) {
	t.Helper()
	f, err := fs.OpenDeleted(d.Attr.Ino)
	if d.State != Recoverable {
		if !errors.Is(err, ErrNotRecoverable) {
			t.Errorf("OpenDeleted %d (%s): %v, want ErrNotRecoverable", d.Attr.Ino, d.State, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("OpenDeleted %d: %v", d.Attr.Ino, err)
	}
	b := make([]byte, f.Size())
	if _, err := f.ReadAt(b, 0); err != nil && len(b) > 0 {
		t.Fatalf("read deleted %d: %v", d.Attr.Ino, err)
	}
	want, err := exec.Command("icat", img, strconv.FormatUint(d.Attr.Ino, 10)).Output()
	if err != nil {
		t.Fatalf("icat %d: %v", d.Attr.Ino, err)
	}
	if !bytes.Equal(b, want) || !bytes.Equal(b, orig) {
		t.Errorf("inode %d: %d bytes read, icat %d, original %d; equal icat %v, original %v",
			d.Attr.Ino, len(b), len(want), len(orig), bytes.Equal(b, want), bytes.Equal(b, orig))
	}
}

// mkfsInodes maps the inode numbers of the root's files to names.
func mkfsInodes(t *testing.T, img string) map[uint64]string {
	out := debugfs(t, img, []string{"ls -l /"})
	m := map[uint64]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(strings.Trim(strings.TrimSpace(line), "<>"))
		if len(f) < 2 {
			continue
		}
		num := strings.Trim(f[0], "<>")
		if ino, err := strconv.ParseUint(num, 10, 64); err == nil {
			m[ino] = f[len(f)-1]
		}
	}
	return m
}

// flsDeleted is the set of inodes `fls -d -r` names as deleted regular files.
func flsDeleted(t *testing.T, img string) map[uint64]bool {
	out, err := exec.Command("fls", "-d", "-r", img).Output()
	if err != nil {
		t.Fatalf("fls -d: %v", err)
	}
	m := map[uint64]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[0] != "r/r" || f[1] != "*" {
			continue
		}
		if ino, err := strconv.ParseUint(strings.TrimSuffix(f[2], ":"), 10, 64); err == nil && ino > 0 {
			m[ino] = true
		}
	}
	return m
}

// debugfsW runs commands with debugfs -w, failing on any error it prints.
func debugfsW(t *testing.T, img string, cmds ...string) {
	t.Helper()
	for _, c := range cmds {
		out, err := exec.Command("debugfs", "-w", "-R", c, img).CombinedOutput()
		msg := strings.TrimSpace(strings.TrimPrefix(string(out), strings.SplitN(string(out), "\n", 2)[0]))
		if err != nil || msg != "" && !strings.HasPrefix(msg, "Allocated inode") {
			t.Fatalf("debugfs -w -R %q: %v\n%s", c, err, out)
		}
	}
}

// TestDeletedSeed checks the fuzz seed holds what FuzzImage needs: two
// recoverable inodes.
func TestDeletedSeed(t *testing.T) {
	fs, _ := tinyFS(t, "deleted", nil)
	ds, err := fs.DeletedInodes()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range ds {
		if d.State == Recoverable {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d recoverable inodes in testdata/deleted.img.gz, want 2: %+v", n, ds)
	}
}

// checkIstat compares d with what The Sleuth Kit's istat says of its inode.
func checkIstat(t *testing.T, img string, d Deleted) {
	t.Helper()
	out, err := exec.Command("istat", img, strconv.FormatUint(d.Attr.Ino, 10)).Output()
	if err != nil {
		t.Fatalf("istat %d: %v", d.Attr.Ino, err)
	}
	for _, want := range []string{
		"\nNot Allocated\n",
		"\nsize: " + strconv.FormatInt(d.Attr.Size, 10) + "\n",
		"\nFile Modified:\t" + d.Attr.Mtime.UTC().Format("2006-01-02 15:04:05.000000000") + " (UTC)\n",
		"\nDeleted:\t" + d.Dtime.UTC().Format("2006-01-02 15:04:05") + " (UTC)\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("inode %d: istat lacks %q:\n%s", d.Attr.Ino, want, out)
		}
	}
}
