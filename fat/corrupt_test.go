package fat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/internal/testenv"
)

// tskLayout is a volume's geometry as TSK's fsstat reports it, so that
// damage is placed without trusting the code under test.
type tskLayout struct {
	bits         int
	sectorSize   int64
	clusterSize  int64
	fats         []int64 // first sector of each FAT copy
	clusterStart int64   // first sector of cluster 2
	lastCluster  uint32
}

func fsstatLayout(tb testing.TB, img string) tskLayout {
	st := fsstat(tb, img)
	num := func(k string) int64 {
		f := strings.Fields(st[k])
		if len(f) == 0 {
			tb.Fatalf("fsstat has no %q", k)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			tb.Fatalf("fsstat %q = %q: %v", k, st[k], err)
		}
		return n
	}
	l := tskLayout{sectorSize: num("Sector Size"), clusterSize: num("Cluster Size"), clusterStart: num("** Cluster Area")}
	l.bits, _ = strconv.Atoi(strings.TrimPrefix(st["File System Type"], "FAT"))
	_, last, _ := strings.Cut(st["Total Cluster Range"], " - ")
	n, err := strconv.ParseUint(last, 10, 32)
	if err != nil {
		tb.Fatalf("fsstat cluster range %q: %v", st["Total Cluster Range"], err)
	}
	l.lastCluster = uint32(n)
	for i := 0; ; i++ {
		k := fmt.Sprintf("* FAT %d", i)
		if _, ok := st[k]; !ok {
			break
		}
		l.fats = append(l.fats, num(k))
	}
	return l
}

// clusters turns istat's sector list into cluster numbers.
func (l tskLayout) clusters(sectors []int64) []uint32 {
	var out []uint32
	for _, s := range sectors {
		c := uint32((s-l.clusterStart)*l.sectorSize/l.clusterSize + 2)
		if len(out) == 0 || out[len(out)-1] != c {
			out = append(out, c)
		}
	}
	return out
}

// setFAT writes FAT entry c in every copy (FAT16/32 only).
func (l tskLayout) setFAT(tb testing.TB, img string, c, v uint32) {
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var b []byte
	switch l.bits {
	case 16:
		b = binary.LittleEndian.AppendUint16(nil, uint16(v))
	case 32:
		b = binary.LittleEndian.AppendUint32(nil, v)
	default:
		tb.Fatalf("setFAT on FAT%d", l.bits)
	}
	for _, start := range l.fats {
		if _, err := f.WriteAt(b, start*l.sectorSize+int64(c)*int64(len(b))); err != nil {
			tb.Fatal(err)
		}
	}
}

// corruptCase damages a copy of an image and names the path that must fail.
type corruptCase struct {
	name    string
	damage  func(t *testing.T, img string, l tskLayout, tsk map[string]flsEntry)
	broken  string // path whose read (or listing) must fail
	wantErr string // substring of the error
	dir     bool   // broken is a directory: ReadDir fails
}

func TestCorrupt(t *testing.T) {
	testenv.NeedTools(t, "fls", "istat", "fsstat", "mcopy", "fsck.fat")
	for _, v := range []string{"fat16-2k-clusters", "fat32-512-clusters"} {
		var args []string
		for _, iv := range imageVariants {
			if iv.name == v {
				args = iv.args
			}
		}
		pristine := buildImage(t, "mkimage.sh", args...)
		want := t.TempDir()
		tool(t, "mcopy", "-s", "-n", "-i", pristine, "::*", want+"/")
		tsk := fls(t, pristine)
		l := fsstatLayout(t, pristine)
		chainOf := func(t *testing.T, img, p string) []uint32 {
			_, sectors := istat(t, img, tsk[p].ino)
			return l.clusters(sectors)
		}
		cases := []corruptCase{{
			name: "loop",
			damage: func(t *testing.T, img string, l tskLayout, _ map[string]flsEntry) {
				c := chainOf(t, img, "big.bin")
				l.setFAT(t, img, c[len(c)/2], c[1])
			},
			broken: "big.bin", wantErr: "loops back to cluster",
		}, {
			name: "out-of-range",
			damage: func(t *testing.T, img string, l tskLayout, _ map[string]flsEntry) {
				c := chainOf(t, img, "frag/fragmented.bin")
				l.setFAT(t, img, c[3], l.lastCluster+10)
			},
			broken: "frag/fragmented.bin", wantErr: "out of range",
		}, {
			name: "free-in-chain",
			damage: func(t *testing.T, img string, l tskLayout, _ map[string]flsEntry) {
				c := chainOf(t, img, "big.bin")
				l.setFAT(t, img, c[2], 0)
			},
			broken: "big.bin", wantErr: "FAT entry says free",
		}, {
			name: "short-chain",
			damage: func(t *testing.T, img string, l tskLayout, _ map[string]flsEntry) {
				c := chainOf(t, img, "big.bin")
				l.setFAT(t, img, c[2], 0x0FFFFFFF)
			},
			broken: "big.bin", wantErr: "cluster chain ends after 3 clusters",
		}, {
			name: "directory-loop",
			damage: func(t *testing.T, img string, l tskLayout, _ map[string]flsEntry) {
				c := chainOf(t, img, "many")
				l.setFAT(t, img, c[len(c)-1], c[0])
			},
			broken: "many", dir: true, wantErr: "loops back to cluster",
		}}
		for _, tc := range cases {
			t.Run(v+"/"+tc.name, func(t *testing.T) {
				img := copyImage(t, pristine)
				tc.damage(t, img, l, tsk)
				// The damage is real: fsck.fat -n finds it.
				if out, err := runErr("fsck.fat", "-n", img); err == nil {
					t.Fatalf("fsck.fat -n finds nothing wrong after damage:\n%s", out)
				}
				checkDamaged(t, img, want, tc)
			})
		}
	}
}

// checkDamaged checks that the broken path fails with ErrCorrupt and the
// expected message, and every other file still reads as mcopy extracted it
// from the undamaged image.
func checkDamaged(t *testing.T, img, want string, tc corruptCase) {
	fs := openImage(t, img, nil)
	e, err := resolve(fs, tc.broken)
	if err != nil {
		t.Fatalf("resolve %s: %v", tc.broken, err)
	}
	if tc.dir {
		_, err = fs.ReadDir(e.Ino)
	} else {
		_, err = fs.Open(e.Ino)
	}
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.wantErr) {
		t.Fatalf("%s: error %v, want ErrCorrupt containing %q", tc.broken, err, tc.wantErr)
	}
	t.Logf("%s: %v", tc.broken, err)
	checked := 0
	filepath.WalkDir(want, func(p string, d iofs.DirEntry, err error) error {
		rel, _ := filepath.Rel(want, p)
		if err != nil || d.IsDir() || rel == tc.broken || strings.HasPrefix(rel, tc.broken+"/") {
			return err
		}
		wb, _ := os.ReadFile(p)
		e, err := resolve(fs, filepath.ToSlash(rel))
		if err != nil {
			t.Errorf("resolve %s: %v", rel, err)
			return nil
		}
		got, err := readAll(fs, e.Ino)
		if err != nil || !bytes.Equal(got, wb) {
			t.Errorf("%s: %v (%d bytes, want %d)", rel, err, len(got), len(wb))
		}
		checked++
		return nil
	})
	if checked < 25 {
		t.Errorf("only %d other files checked", checked)
	}
}

func TestTruncated(t *testing.T) {
	testenv.NeedTools(t, "mcopy")
	pristine := buildImage(t, "mkimage.sh", imageVariants[2].args...)
	want := t.TempDir()
	tool(t, "mcopy", "-s", "-n", "-i", pristine, "::*", want+"/")
	full := openImage(t, pristine, nil)
	// Cut the image in the middle of big.bin: earlier files stay readable.
	e, err := resolve(full, "big.bin")
	if err != nil {
		t.Fatal(err)
	}
	f, err := full.Open(e.Ino)
	if err != nil {
		t.Fatal(err)
	}
	ext, _ := f.Extents()
	cut := ext[0].Physical + ext[0].Length/2
	img := copyImage(t, pristine)
	if err := os.Truncate(img, cut); err != nil {
		t.Fatal(err)
	}
	fs := openImage(t, img, nil)
	ok, failed := 0, 0
	for p, n := range mustWalk(t, full) {
		if n.Mode&modeDir != 0 {
			continue
		}
		wb, _ := os.ReadFile(filepath.Join(want, p))
		got, err := readAll(fs, n.Ino)
		fext, _ := mustOpen(t, full, n.Ino).Extents()
		beyond := len(fext) > 0 && fext[len(fext)-1].Physical+fext[len(fext)-1].Length > cut
		switch {
		case beyond && (!errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "beyond the end of the image")):
			t.Errorf("%s lies past the cut but reads with %v", p, err)
		case beyond:
			failed++
		case err != nil || !bytes.Equal(got, wb):
			t.Errorf("%s lies before the cut but reads with %v", p, err)
		default:
			ok++
		}
	}
	if ok < 5 || failed < 10 {
		t.Errorf("%d files readable, %d cut off: the cut should leave both", ok, failed)
	}
	// Cut inside the FAT: Open works, reads report the truncation.
	if err := os.Truncate(img, 4096); err != nil {
		t.Fatal(err)
	}
	fs = openImage(t, img, nil)
	if _, err := fs.ReadDir(fs.Root()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("root of an image cut inside the FAT: %v", err)
	}
}

func mustWalk(t *testing.T, fs *FS) map[string]node {
	nodes, err := walk(fs, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

func mustOpen(t *testing.T, fs *FS, ino uint64) *File {
	f, err := fs.Open(ino)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestBadBootSector(t *testing.T) {
	testenv.NeedTools(t, "mkfs.fat")
	pristine := buildImage(t, "mkimage.sh", imageVariants[0].args...)
	for _, tc := range []struct {
		off  int64
		val  []byte
		want string
	}{
		{11, []byte{0, 3}, "bytes per sector 768"},
		{13, []byte{3}, "sectors per cluster 3"},
		{14, []byte{0, 0}, "reserved sector count 0"},
		{16, []byte{0}, "number of FATs 0"},
		{21, []byte{0x12}, "media descriptor 0x12"},
		{0, make([]byte, 512), "not a FAT volume"},
		{17, []byte{0, 0}, "no root directory entries"},
		{22, []byte{0xFF, 0xFF}, "leave no data area"},
	} {
		img := copyImage(t, pristine)
		f, _ := os.OpenFile(img, os.O_RDWR, 0)
		f.WriteAt(tc.val, tc.off)
		st, _ := f.Stat()
		_, err := Open(f, st.Size(), nil)
		f.Close()
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("boot sector byte %d = %x: %v, want ErrCorrupt with %q", tc.off, tc.val, err, tc.want)
		}
	}
}
