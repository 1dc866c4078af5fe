package xfs

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// xfsDB runs commands in one read-only xfs_db session.
func xfsDB(t *testing.T, img string, cmds []string) string {
	t.Helper()
	args := []string{"-r"}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out, err := exec.Command("xfs_db", append(args, img)...).CombinedOutput()
	if err != nil {
		t.Fatalf("xfs_db: %v\n%s", err, out)
	}
	return string(out)
}

// TestV4 reads v4 volumes (made by mkfs.xfs -p: new kernels cannot mount
// v4) and checks every inode's core fields and every directory's listing
// against xfs_db, and contents against the protofile's sources.
func TestV4(t *testing.T) {
	for _, v := range []string{"v4", "v4-512"} {
		t.Run(v, func(t *testing.T) {
			img := testImage(t, v)
			fs := openImage(t, img, nil)
			if info := fs.Info(); info.Version != 4 || info.DirtyLog {
				t.Fatalf("info %+v", info)
			}
			tree := walk(t, fs)
			if len(tree) != 2012 {
				t.Errorf("%d paths, want 2012", len(tree))
			}
			var cmds []string
			var order []string
			for p, e := range tree {
				cmds = append(cmds, fmt.Sprintf("inode %d", e.Ino), "print core.mode core.uid core.gid core.nlinkv2 core.size core.gen")
				order = append(order, p)
			}
			out := xfsDB(t, img, cmds)
			fields := map[string]uint64{}
			i := 0
			for _, line := range strings.Split(out, "\n") {
				k, v, ok := strings.Cut(line, " = ")
				if !ok {
					continue
				}
				base := 10
				if k == "core.mode" {
					base = 8
				}
				n, err := strconv.ParseUint(v, base, 64)
				if err != nil {
					t.Fatalf("xfs_db line %q", line)
				}
				fields[k] = n
				if k == "core.gen" {
					checkCore(t, fs, order[i], tree[order[i]], fields)
					i++
				}
			}
			if i != len(order) {
				t.Fatalf("xfs_db printed %d inodes of %d", i, len(order))
			}
			checkV4Content(t, fs)
		})
	}
}

func checkCore(t *testing.T, fs *FS, p string, e DirEntry, f map[string]uint64) {
	a, err := fs.Stat(e.Ino)
	if err != nil {
		t.Errorf("Stat %s: %v", p, err)
		return
	}
	if uint64(a.Mode) != f["core.mode"] || uint64(a.Uid) != f["core.uid"] || uint64(a.Gid) != f["core.gid"] ||
		uint64(a.Nlink) != f["core.nlinkv2"] || uint64(a.Size) != f["core.size"] || uint64(a.Generation) != f["core.gen"] {
		t.Errorf("%s: Stat %+v, xfs_db %v", p, a, f)
	}
}

func checkV4Content(t *testing.T, fs *FS) {
	read := func(name string) string {
		e, err := fs.Lookup(fs.Root(), name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := fs.Open(e.Ino)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, f.Size())
		if _, err := f.ReadAt(b, 0); err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read("hello.txt"); got != "hello, xfs v4\n" {
		t.Errorf("hello.txt = %q", got)
	}
	want, err := exec.Command("python3", "-c", `import random,sys; r=random.Random("large"); sys.stdout.buffer.write(r.randbytes(3000000))`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if read("large") != string(want) {
		t.Errorf("large differs from its source")
	}
	for name, target := range map[string]string{"short-link": "hello.txt", "long-link": strings.Repeat("long/", 150) + "target"} {
		e, _ := fs.Lookup(fs.Root(), name)
		if got, err := fs.Readlink(e.Ino); got != target || err != nil {
			t.Errorf("%s -> %q, %v", name, got, err)
		}
	}
	e, _ := fs.Lookup(fs.Root(), "blk")
	if a, _ := fs.Stat(e.Ino); a.Rdev != 8<<8|1 || a.Mode != sIFBLK|0o600 || a.Gid != 6 {
		t.Errorf("blk: %+v", a)
	}
}

// TestDirtyLog: a volume shut down with transactions in its log says so,
// and reads as the kernel's norecovery mount shows it.
func TestDirtyLog(t *testing.T) {
	img := testImage(t, "dirty")
	fs := openImage(t, img, nil)
	if info := fs.Info(); !info.DirtyLog || len(info.Warnings) != 1 || !strings.Contains(info.Warnings[0], "not replayed") {
		t.Fatalf("info %+v", info)
	}
	mnt := kernelMount(t, img)
	tree := walk(t, fs)
	compareListings(t, fs, mnt, tree)
	for p, e := range tree {
		compareInode(t, fs, mnt+p, p, e)
	}
}
