package xfs

import (
	"os/exec"
	"strings"
	"testing"
)

// TestFlags compares Attr.Flags with xfs_db's view of the inode flags set
// by chattr in the kernel-made image (+i on /empty, +a on /b4095).
func TestFlags(t *testing.T) {
	img := testImage(t, "v5")
	fs := openImage(t, img, nil)
	fields := []struct {
		name string
		bit  uint16
	}{{"immutable", FlagImmutable}, {"append", FlagAppend}, {"sync", FlagSync}, {"noatime", FlagNoatime}, {"nodump", FlagNodump}}
	set := 0
	for _, p := range []string{"empty", "b4095", "hello.txt"} {
		args := []string{"-r", "-c", "path /" + p}
		for _, f := range fields {
			args = append(args, "-c", "print core."+f.name)
		}
		out, err := exec.Command("xfs_db", append(args, img)...).CombinedOutput()
		if err != nil {
			t.Fatalf("xfs_db: %v %s", err, out)
		}
		e, err := fs.Lookup(fs.Root(), p)
		if err != nil {
			t.Fatal(err)
		}
		a, err := fs.Stat(e.Ino)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fields {
			want := strings.Contains(string(out), "core."+f.name+" = 1")
			if !want && !strings.Contains(string(out), "core."+f.name+" = 0") {
				t.Fatalf("xfs_db gave no core.%s: %s", f.name, out)
			}
			if got := a.Flags&f.bit != 0; got != want {
				t.Errorf("/%s %s: %v, xfs_db says %v", p, f.name, got, want)
			}
			if want {
				set++
			}
		}
	}
	if set != 2 {
		t.Fatalf("%d flags set in the image, want 2 (chattr +i, +a)", set)
	}
}
