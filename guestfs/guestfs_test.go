package guestfs

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

func demoDisk(t *testing.T) string {
	t.Helper()
	testenv.NeedTools(t, "sgdisk", "mkfs.fat", "mcopy", "mke2fs", "fls", "icat")
	_, file, _, _ := runtime.Caller(0)
	out := filepath.Join(t.TempDir(), "disk.raw")
	script := filepath.Join(filepath.Dir(file), "..", "testimages", "demo-disk.sh")
	if b, err := exec.Command("bash", script, out, "2").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return out
}

// walk lists every path under the root with its inode.
func walk(t *testing.T, fs FS) map[string]uint64 {
	out := map[string]uint64{}
	var rec func(dir uint64, p string, depth int)
	rec = func(dir uint64, p string, depth int) {
		if depth > 64 {
			t.Fatalf("too deep at %s", p)
		}
		ents, err := fs.ReadDir(dir)
		if err != nil {
			t.Fatalf("ReadDir %s: %v", p, err)
		}
		for _, e := range ents {
			q := path.Join(p, e.Name)
			out[q] = e.Ino
			if e.Mode&syscall.S_IFMT == syscall.S_IFDIR {
				rec(e.Ino, q, depth+1)
			}
		}
	}
	rec(fs.Root(), "/", 0)
	return out
}

// flsFiles lists allocated regular files and dirs under a partition offset.
func flsFiles(t *testing.T, img string, sectorOff int64) map[string]string {
	out, err := exec.Command("fls", "-r", "-p", "-u", "-o", strconv.FormatInt(sectorOff, 10), img).Output()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		typ, rest, _ := strings.Cut(line, " ")
		inode, name, ok := strings.Cut(rest, ":\t")
		if !ok || strings.HasPrefix(name, "$") || strings.Contains(name, "/$") || name == "lost+found" || strings.Contains(line, "(Volume Label Entry)") {
			continue
		}
		m["/"+name] = typ + " " + strings.TrimSuffix(inode, "(realloc)")
	}
	return m
}

func TestDemoDiskVolumes(t *testing.T) {
	img := demoDisk(t)
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	d, err := OpenDisk(f, fi.Size(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Table.Scheme != "gpt" || len(d.Volumes) != 2 {
		t.Fatalf("table %s, %d volumes", d.Table.Scheme, len(d.Volumes))
	}
	want := map[string]string{"p1": "vfat", "p2": "ext4"}
	for _, v := range d.Volumes {
		if v.Err != nil || v.Kind != want[v.Name] || v.FS == nil {
			t.Fatalf("volume %s: kind %q err %v", v.Name, v.Kind, v.Err)
		}
		got := walk(t, v.FS)
		oracle := flsFiles(t, img, v.Offset/512)
		var gotNames, wantNames []string
		for p := range got {
			if p != "/lost+found" {
				gotNames = append(gotNames, strings.ToLower(p))
			}
		}
		for p := range oracle {
			wantNames = append(wantNames, strings.ToLower(p))
		}
		sort.Strings(gotNames)
		sort.Strings(wantNames)
		if strings.Join(gotNames, "\n") != strings.Join(wantNames, "\n") {
			t.Fatalf("%s: walk\n%v\nfls\n%v", v.Name, gotNames, wantNames)
		}
		// Content of every regular file against icat (ext4 inodes match TSK's).
		for p, ino := range got {
			a, err := v.FS.Stat(ino)
			if err != nil {
				t.Fatalf("%s %s: %v", v.Name, p, err)
			}
			if a.Mode&syscall.S_IFMT != syscall.S_IFREG {
				continue
			}
			file, err := v.FS.Open(ino)
			if err != nil {
				t.Fatal(err)
			}
			b := make([]byte, file.Size())
			if n, _ := file.ReadAt(b, 0); int64(n) != file.Size() {
				t.Fatalf("%s: short read", p)
			}
			tskIno := strings.Fields(oracle[p])[1]
			for k := range oracle {
				if strings.EqualFold(k, p) {
					tskIno = strings.Fields(oracle[k])[1]
				}
			}
			want, err := exec.Command("icat", "-o", strconv.FormatInt(v.Offset/512, 10), img, tskIno).Output()
			if err != nil || !bytes.Equal(b, want) {
				t.Fatalf("%s %s: content differs from icat (%v)", v.Name, p, err)
			}
		}
	}
}

func TestUnknownAndDamagedVolumes(t *testing.T) {
	img := demoDisk(t)
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	d0, _ := OpenDisk(bytes.NewReader(b), int64(len(b)), nil)
	esp, root := d0.Volumes[0], d0.Volumes[1]
	// Wipe the ESP's boot sector; corrupt the ext4 superblock's block count.
	copy(b[esp.Offset:esp.Offset+512], make([]byte, 512))
	copy(b[root.Offset+1024+4:], []byte{0xff, 0xff, 0xff, 0x7f})
	d, err := OpenDisk(bytes.NewReader(b), int64(len(b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if v := d.Volumes[0]; !errors.Is(v.Err, ErrUnknownFS) || v.FS != nil {
		t.Fatalf("wiped ESP: %v", v.Err)
	}
	if v := d.Volumes[1]; v.Err == nil || v.FS != nil || !strings.Contains(v.Err.Error(), "p2: ext4") {
		t.Fatalf("damaged ext4: %v", v.Err)
	}
}

func TestUnpartitionedDisk(t *testing.T) {
	testenv.NeedTools(t, "mke2fs")
	img := filepath.Join(t.TempDir(), "fs.img")
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "hello.txt"), []byte("hello\n"), 0o644)
	if out, err := exec.Command("mke2fs", "-q", "-F", "-t", "ext4", "-d", src, img, "8M").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	f, _ := os.Open(img)
	defer f.Close()
	fi, _ := f.Stat()
	d, err := OpenDisk(f, fi.Size(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Volumes) != 1 || d.Volumes[0].Name != "fs" || d.Volumes[0].FS == nil {
		t.Fatalf("volumes %+v", d.Volumes)
	}
	e, err := d.Volumes[0].FS.Lookup(d.Volumes[0].FS.Root(), "hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	file, _ := d.Volumes[0].FS.Open(e.Ino)
	buf := make([]byte, 6)
	file.ReadAt(buf, 0)
	if string(buf) != "hello\n" {
		t.Fatalf("read %q", buf)
	}
}

func FuzzDetect(f *testing.F) {
	f.Add(make([]byte, 4096))
	f.Fuzz(func(t *testing.T, b []byte) {
		detect(b)
	})
}

// TestVolumeLayout checks that each volume's Layout points at the disk bytes
// its Reader returns, for partitions and for the LVs of partition's LVM
// fixture (real pvcreate/lvcreate; one LV spans two PVs).
func TestVolumeLayout(t *testing.T) {
	img := gunzip(t, filepath.Join("..", "partition", "testdata", "lvm.img.gz"))
	d, err := OpenDisk(bytes.NewReader(img), int64(len(img)), nil)
	if err != nil {
		t.Fatal(err)
	}
	lvs, nonzero := 0, 0
	for _, v := range d.Volumes {
		if v.Reader == nil {
			continue
		}
		if strings.HasPrefix(v.Name, "lvm/") {
			lvs++
		}
		var next int64
		for _, p := range v.Layout {
			if p.Off != next {
				t.Fatalf("%s: piece %+v after %d bytes", v.Name, p, next)
			}
			for _, off := range []int64{0, p.Len / 3, p.Len - 512} {
				want := make([]byte, 512)
				if _, err := v.Reader.ReadAt(want, p.Off+off); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(want, make([]byte, 512)) {
					nonzero++
				}
				if got := img[p.DiskOff+off : p.DiskOff+off+512]; !bytes.Equal(got, want) {
					t.Errorf("%s: volume byte %d is not disk byte %d", v.Name, p.Off+off, p.DiskOff+off)
				}
			}
			next += p.Len
		}
		if next != v.Size {
			t.Errorf("%s: layout covers %d of %d bytes", v.Name, next, v.Size)
		}
	}
	if lvs == 0 || nonzero == 0 {
		t.Errorf("%d LVs, %d non-zero samples: the fixture proves nothing", lvs, nonzero)
	}
}
