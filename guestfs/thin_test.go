package guestfs

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestThinLVMVolumes opens a disk whose LVM thin pool (made by
// testimages/partition/lvmthin.sh with lvm2 and thin_restore) holds an
// ext4 thin LV and a thin snapshot of it: both appear as volumes with
// their own files, the pool itself does not.
func TestThinLVMVolumes(t *testing.T) {
	testenv.NeedTools(t, "lvm", "losetup", "sgdisk", "mke2fs", "debugfs", "python3", "thin_restore", "thin_check", "thin_dump")
	testenv.NeedRoot(t)
	img := filepath.Join(t.TempDir(), "thin.img")
	if b, err := exec.Command(filepath.Join("..", "testimages", "partition", "lvmthin.sh"), img).CombinedOutput(); err != nil {
		t.Fatalf("lvmthin.sh: %v\n%s", err, b)
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	d, err := OpenDisk(f, st.Size(), nil)
	if err != nil {
		t.Fatal(err)
	}
	vols := map[string]*Volume{}
	for _, v := range d.Volumes {
		vols[v.Name] = v
	}
	want := map[string]map[string]string{ // volume -> file -> content ("" = absent)
		"lvm/vgt/thin1": {"/hello.txt": "hello from vgt/thin1\n", "/dir/nested.txt": "nested file in thin1\n", "/snap.txt": ""},
		"lvm/vgt/snap1": {"/hello.txt": "hello from vgt/thin1\n", "/dir/nested.txt": "", "/snap.txt": "written in the snapshot\n"},
		"lvm/vgt/lin":   {"/hello.txt": "hello from vgt/thin1\n"},
	}
	for name, files := range want {
		v := vols[name]
		if v == nil || v.FS == nil || v.Kind != "ext4" {
			t.Errorf("%s: %+v, want an ext4 volume", name, v)
			continue
		}
		inos := walk(t, v.FS)
		for p, content := range files {
			ino, ok := inos[p]
			if content == "" {
				if ok {
					t.Errorf("%s%s exists", name, p)
				}
				continue
			}
			if got := readAll(t, v.FS, ino); got != content {
				t.Errorf("%s%s: %q, want %q", name, p, got, content)
			}
			checkPlaced(t, f, v, ino, content)
		}
	}
	if v := vols["lvm/vgt/big"]; v == nil || v.Reader == nil || v.Size != 40<<20 {
		t.Errorf("lvm/vgt/big: %+v, want a 40 MiB volume", v)
	}
	for name := range vols {
		if strings.Contains(name, "pool") {
			t.Errorf("volume %s: a thin pool and its sub-LVs are not volumes", name)
		}
	}
}

func readAll(t *testing.T, fs FS, ino uint64) string {
	t.Helper()
	f, err := fs.Open(ino)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, f.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkPlaced finds a file's bytes on the disk through its extents and
// the volume's layout (what diff --blocks does), and compares them.
func checkPlaced(t *testing.T, disk io.ReaderAt, v *Volume, ino uint64, content string) {
	t.Helper()
	es, err := v.FS.(Extenter).Extents(ino)
	if err != nil || len(es) == 0 {
		t.Fatalf("%s inode %d: extents %v, %v", v.Name, ino, es, err)
	}
	at, ok := v.diskOffset(es[0].Physical)
	if !ok {
		t.Fatalf("%s inode %d: volume byte %d is in no piece of the layout %v", v.Name, ino, es[0].Physical, v.Layout)
	}
	b := make([]byte, len(content))
	if _, err := disk.ReadAt(b, at); err != nil || string(b) != content {
		t.Errorf("%s inode %d: disk bytes at %d are %q (%v), want %q", v.Name, ino, at, b, err, content)
	}
}
