package fs

import (
	"errors"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/fs/tree"
	"github.com/vmarchive/vmarchive/guestfs"
	"github.com/vmarchive/vmarchive/internal/testenv"
	"github.com/vmarchive/vmarchive/partition"
)

// fakeFS is a guest filesystem whose directories list what readDir says;
// every other inode is a file holding its own number's name.
type fakeFS struct {
	readDir func(dir uint64) ([]guestfs.DirEntry, error)
}

const fakeRoot = 1

func (f fakeFS) Type() string { return "fake" }
func (f fakeFS) Root() uint64 { return fakeRoot }
func (f fakeFS) Stat(ino uint64) (guestfs.Attr, error) {
	a := guestfs.Attr{Ino: ino, Mode: syscall.S_IFREG | 0o444, Nlink: 1, Size: int64(len(fakeData(ino)))}
	if ino == fakeRoot {
		a.Mode, a.Size = syscall.S_IFDIR|0o555, 0
	}
	return a, nil
}
func (f fakeFS) Lookup(dir uint64, name string) (guestfs.DirEntry, error) {
	es, err := f.readDir(dir)
	for _, e := range es {
		if e.Name == name {
			return e, err
		}
	}
	return guestfs.DirEntry{}, iofs.ErrNotExist
}
func (f fakeFS) ReadDir(dir uint64) ([]guestfs.DirEntry, error)   { return f.readDir(dir) }
func (f fakeFS) Open(ino uint64) (guestfs.File, error)            { return strings.NewReader(fakeData(ino)), nil }
func (f fakeFS) Readlink(ino uint64) (string, error)              { return "", errors.ErrUnsupported }
func (f fakeFS) ListXattr(ino uint64) ([]string, error)           { return nil, nil }
func (f fakeFS) GetXattr(ino uint64, name string) ([]byte, error) { return nil, iofs.ErrNotExist }

func fakeData(ino uint64) string { return strings.Repeat("x", int(ino)) }

// TestEdgeDropsBadNames mounts a guest directory whose reader lists an
// empty name, ".", "..", a "/" and a NUL in names and a name twice. ls
// shows the good names once (the first of the twice-listed), nothing
// panics, the log names the directory once and volumes.txt's text lists
// each entry left out.
func TestEdgeDropsBadNames(t *testing.T) {
	testenv.NeedFUSE(t)
	fake := fakeFS{readDir: func(dir uint64) ([]guestfs.DirEntry, error) {
		var out []guestfs.DirEntry
		for i, n := range []string{"a", "", ".", "..", "x/y", "n\x00m", "a", "b"} {
			out = append(out, guestfs.DirEntry{Name: n, Ino: uint64(i) + 2, Mode: syscall.S_IFREG})
		}
		return out, nil
	}}
	var logs syncBuffer
	m := &mount{uid: uint32(os.Getuid()), gid: uint32(os.Getgid()), started: time.Now()}
	m.errs.logger = newLogger(&logs)
	vol := &volume{m: m, fs: fake, key: "fake", where: "vm1/p/disk0/p1"}
	root := &guestNode{vol: vol, gino: fakeRoot}
	mnt := t.TempDir()
	srv, err := gofs.Mount(mnt, root, &gofs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			LazyUnmount(mnt)
		}
	})
	for range 2 {
		ents, err := os.ReadDir(mnt)
		if err != nil {
			t.Fatalf("ls: %v", err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if !slices.Equal(names, []string{"a", "b"}) {
			t.Fatalf("ls = %q, want a and b", names)
		}
		if _, errno := root.Readdir(t.Context()); errno != 0 { // past the kernel's cache
			t.Fatal(errno)
		}
	}
	if got := readFile(t, filepath.Join(mnt, "a")); string(got) != fakeData(2) {
		t.Errorf("a reads %q, want the first a's (inode 2)", got)
	}
	log := logs.String()
	if n := strings.Count(log, "entries left out"); n != 1 || !strings.Contains(log, "vm1/p/disk0/p1 inode 1: 6 entries left out") || strings.Contains(log, "panic") {
		t.Errorf("log, want one line naming the directory:\n%s", log)
	}
	gd := &guestfs.Disk{Table: &partition.Table{Scheme: "none", SectorSize: 512}, Volumes: []*guestfs.Volume{{Name: "p1", FS: fake}}}
	report := tree.VolumesReport(&catalog.Manifest{VM: "vm1"}, "disk0", gd, nil, func(string) []string { return vol.edgeNotes() })
	for _, want := range []string{`entry "" (inode 3) left out: empty name`, `entry "." (inode 4)`, `entry ".." (inode 5)`,
		`entry "x/y" (inode 6) left out: name contains "/" or NUL`, `entry "n\x00m" (inode 7)`, `entry "a" (inode 8) left out: name listed twice`} {
		if !strings.Contains(report, "p1\tbad name, left out: directory 1: "+want) {
			t.Errorf("volumes.txt lacks %q:\n%s", want, report)
		}
	}
	if n := strings.Count(report, "bad name, left out"); n != 6 {
		t.Errorf("volumes.txt names %d entries, want 6:\n%s", n, report)
	}
}
