package xfs

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCorrupt damages one structure of a kernel-made image with xfs_db
// (write -d skips its verifier; write -c leaves the CRC stale) and checks that
// only the operation that needs it fails, with an error naming it.
func TestCorrupt(t *testing.T) {
	base := testImage(t, "v5")
	cases := []struct {
		name, path string
		cmds       []string
		op         string // stat, read, readdir, xattrs
		want       string
		realtime   bool
	}{
		{"inode-crc", "/hello.txt", []string{"write -c core.size 99"}, "stat", "checksum", false},
		{"btree-root", "/fragmented", []string{"write u3.bmbt.level 20"}, "read", "btree root level 20", false},
		{"dir-owner", "/leaf", []string{"dblock 0", "write dhdr.hdr.owner 5"}, "readdir", "owner 5", false},
		{"attr-count", "/xleaf", []string{"ablock 0", "write -d hdr.count 5000"}, "xattrs", "5000 entries", false},
		{"realtime", "/large", []string{"write core.realtime 1"}, "read", "real-time device", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "c.img")
			if out, err := exec.Command("cp", "--sparse=always", base, img).CombinedOutput(); err != nil {
				t.Fatalf("cp: %v %s", err, out)
			}
			args := []string{"-x", "-c", "path " + c.path}
			for _, cmd := range c.cmds {
				args = append(args, "-c", cmd)
			}
			if out, err := exec.Command("xfs_db", append(args, img)...).CombinedOutput(); err != nil {
				t.Fatalf("xfs_db: %v %s", err, out)
			}
			fs := openImage(t, img, nil)
			e, err := fs.Lookup(fs.Root(), strings.TrimPrefix(c.path, "/"))
			if err != nil {
				t.Fatal(err)
			}
			switch c.op {
			case "stat":
				_, err = fs.Stat(e.Ino)
			case "read":
				var f *File
				if f, err = fs.Open(e.Ino); err == nil {
					_, err = io.ReadAll(io.NewSectionReader(f, 0, f.Size()))
				}
			case "readdir": // a damaged block is left out and noted
				if _, err = fs.ReadDir(e.Ino); err == nil && fs.DirDamaged(e.Ino) {
					err = fmt.Errorf("%w: %s", ErrCorrupt, strings.Join(fs.Damage(), "; "))
				}
			case "xattrs":
				_, err = fs.ListXattr(e.Ino)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%s %s: %v, want an error with %q", c.op, c.path, err, c.want)
			}
			if c.realtime != errors.Is(err, ErrRealtime) || !c.realtime && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%v: wrong kind", err)
			}
			// The rest of the volume still reads.
			if _, err := fs.ReadDir(fs.Root()); err != nil {
				t.Fatalf("root after damage: %v", err)
			}
			if _, err := fs.Lookup(fs.Root(), "b4097"); err != nil {
				t.Fatal(err)
			}
		})
	}
}
