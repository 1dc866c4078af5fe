package ext4

import (
	"errors"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// flip xors bytes of img at off.
func flip(t *testing.T, img string, off int64, n int) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] ^= 0x5A
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

var reImap = regexp.MustCompile(`located at block (\d+), offset 0x([0-9a-f]+)`)

// inodeOffset asks debugfs where an inode lives.
func inodeOffset(t *testing.T, img, path string, bs int64) int64 {
	m := reImap.FindStringSubmatch(debugfs(t, img, []string{"imap " + path}))
	if m == nil {
		t.Fatalf("debugfs imap %s failed", path)
	}
	blk, _ := strconv.ParseInt(m[1], 10, 64)
	off, _ := strconv.ParseInt(m[2], 16, 64)
	return blk*bs + off
}

// readAll reads every regular file and directory except skip, and
// returns how many files it read.
func readAll(t *testing.T, fs *FS, skip map[uint64]bool) int {
	t.Helper()
	n := 0
	var rec func(dir uint64)
	rec = func(dir uint64) {
		ents, err := fs.ReadDir(dir)
		if err != nil {
			t.Errorf("ReadDir %d: %v", dir, err)
			return
		}
		for _, e := range ents {
			if skip[e.Ino] {
				continue
			}
			switch e.Mode {
			case sIFDIR:
				rec(e.Ino)
			case sIFREG:
				f, err := fs.Open(e.Ino)
				if err == nil {
					_, err = f.ReadAt(make([]byte, f.Size()), 0)
				}
				if err != nil && err != io.EOF {
					t.Errorf("read %s (%d): %v", e.Name, e.Ino, err)
				}
				n++
			}
		}
	}
	rec(RootIno)
	return n
}

func wantCorrupt(t *testing.T, err error, mention string) {
	t.Helper()
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), mention) {
		t.Errorf("error %v: want ErrCorrupt mentioning %q", err, mention)
	}
}

func TestCorruptInode(t *testing.T) {
	img := copyImage(t, "ext4")
	bs := int64(openImage(t, img, nil).Info().BlockSize)
	off := inodeOffset(t, img, "/hello.txt", bs)
	flip(t, img, off+4, 1) // i_size_lo
	fs := openImage(t, img, nil)
	e, err := fs.Lookup(RootIno, "hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	_, err = fs.Stat(e.Ino)
	wantCorrupt(t, err, "inode "+strconv.FormatUint(e.Ino, 10))
	if readAll(t, fs, map[uint64]bool{e.Ino: true}) < 10 {
		t.Error("other files not readable")
	}
	// Without checksums the damaged inode reads with the wrong size.
	if _, err := openImage(t, img, &Options{IgnoreChecksums: true}).Stat(e.Ino); err != nil {
		t.Errorf("IgnoreChecksums: %v", err)
	}
}

func TestCorruptExtentHeader(t *testing.T) {
	img := copyImage(t, "ext4")
	bs := int64(openImage(t, img, nil).Info().BlockSize)
	flip(t, img, inodeOffset(t, img, "/large", bs)+0x28, 2) // eh_magic in i_block
	fs := openImage(t, img, &Options{IgnoreChecksums: true})
	e, _ := fs.Lookup(RootIno, "large")
	f, err := fs.Open(e.Ino)
	if err == nil {
		_, err = f.ReadAt(make([]byte, 10), 0)
	}
	wantCorrupt(t, err, "extent header magic")
	if !strings.Contains(err.Error(), "inode "+strconv.FormatUint(e.Ino, 10)) {
		t.Errorf("error does not name the inode: %v", err)
	}
	readAll(t, fs, map[uint64]bool{e.Ino: true})
}

var reExtentIndex = regexp.MustCompile(`(?m)^\s*0/\s*1\s+1/\s*\d+\s+\d+ -\s+\d+\s+(\d+)`)

func TestCorruptExtentBlock(t *testing.T) {
	img := copyImage(t, "frag")
	m := reExtentIndex.FindStringSubmatch(debugfs(t, img, []string{"ex /frag/big"}))
	if m == nil {
		t.Fatal("frag/big has no extent index node (debugfs ex)")
	}
	blk, _ := strconv.ParseInt(m[1], 10, 64)
	bs := int64(openImage(t, img, nil).Info().BlockSize)
	flip(t, img, blk*bs+12+12*3, 4) // the start of the 4th leaf extent
	for _, ignore := range []bool{false, true} {
		fs := openImage(t, img, &Options{IgnoreChecksums: ignore})
		d, _ := fs.Lookup(RootIno, "frag")
		e, err := fs.Lookup(d.Ino, "big")
		if err != nil {
			t.Fatal(err)
		}
		f, err := fs.Open(e.Ino)
		if err == nil {
			_, err = f.ReadAt(make([]byte, 10), 0)
		}
		if ignore {
			wantCorrupt(t, err, "outside") // the bounds check catches it
		} else {
			wantCorrupt(t, err, "extent block "+m[1]+": checksum")
		}
		readAll(t, fs, map[uint64]bool{e.Ino: true})
	}
}

func TestCorruptDirBlock(t *testing.T) {
	for _, v := range []string{"ext4", "nocsum"} {
		t.Run(v, func(t *testing.T) {
			img := copyImage(t, v)
			lines := strings.Split(strings.TrimSpace(debugfs(t, img, []string{"bmap /names 0"})), "\n")
			blk, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			bs := int64(openImage(t, img, nil).Info().BlockSize)
			flip(t, img, blk*bs+12+4, 2) // rec_len of ".."
			fs := openImage(t, img, nil)
			d, err := fs.Lookup(RootIno, "names")
			if err != nil {
				t.Fatal(err)
			}
			_, err = fs.ReadDir(d.Ino)
			want := "rec_len"
			if v == "ext4" {
				want = "leaf checksum"
			}
			wantCorrupt(t, err, want)
			if !strings.Contains(err.Error(), "directory "+strconv.FormatUint(d.Ino, 10)) {
				t.Errorf("error does not name the directory: %v", err)
			}
			readAll(t, fs, map[uint64]bool{d.Ino: true})
		})
	}
}

func TestCorruptGroupDescAndSuperblock(t *testing.T) {
	img := copyImage(t, "b1024") // 1 KiB blocks: descriptors at block 2
	ds := int64(openImage(t, img, nil).sb.groupDescSize())
	flip(t, img, 2*1024+ds*3+0x0C, 2) // free blocks count of group 3
	fs := openImage(t, img, nil)
	if w := strings.Join(fs.Info().Warnings, "\n"); !strings.Contains(w, "group descriptor 3") {
		t.Errorf("no warning for group descriptor 3: %q", w)
	}
	ipg := uint64(fs.sb.inodesPerGroup)
	_, err := fs.Stat(3*ipg + 1)
	wantCorrupt(t, err, "group descriptor 3")
	readAll(t, fs, nil)

	flip(t, img, 1024+0x70, 1) // inside s_volume_name... covered by the checksum
	f, _ := os.Open(img)
	defer f.Close()
	st, _ := f.Stat()
	_, err = Open(f, st.Size(), nil)
	wantCorrupt(t, err, "superblock checksum")
	if _, err := Open(f, st.Size(), &Options{IgnoreChecksums: true}); err != nil {
		t.Errorf("IgnoreChecksums: %v", err)
	}
}
