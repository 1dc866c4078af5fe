package fs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// deletedDisks makes an ext4 image with a file deleted by debugfs rm and an
// NTFS image with a file deleted through ntfs-3g, and returns the images
// and the deleted content.
func deletedDisks(t *testing.T) (ext4Img, ntfsImg string, data []byte) {
	testenv.NeedTools(t, "mke2fs", "debugfs", "mkntfs", "ntfs-3g", "ntfscp", "icat")
	testenv.NeedFUSE(t)
	dir := t.TempDir()
	data = make([]byte, 20000)
	rand.New(rand.NewSource(19)).Read(data)
	src := filepath.Join(dir, "src")
	os.Mkdir(src, 0o755)
	for name, b := range map[string][]byte{"gone.bin": data, "keep.txt": []byte("kept\n")} {
		if err := os.WriteFile(filepath.Join(src, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ext4Img, ntfsImg = filepath.Join(dir, "ext4.img"), filepath.Join(dir, "ntfs.img")
	sh(t, "mke2fs", "-q", "-F", "-t", "ext4", "-b", "1024", "-d", src, ext4Img, "4M")
	sh(t, "debugfs", "-w", "-R", "rm /gone.bin", ext4Img)
	sh(t, "truncate", "-s", "8M", ntfsImg)
	sh(t, "mkntfs", "-q", "-F", "-f", ntfsImg)
	// A change journal of one record (USN_RECORD_V2: usn 0, MFT 64 seq 1,
	// parent 5, FILE_CREATE|CLOSE, ARCHIVE, "a.txt"), as forensic/usn's
	// test places it, before the
	// files, so that it takes none of the deleted file's clusters.
	rec := make([]byte, 72)
	le := binary.LittleEndian
	le.PutUint32(rec, 72)
	le.PutUint16(rec[4:], 2)
	le.PutUint64(rec[8:], 64|1<<48)
	le.PutUint64(rec[16:], 5|5<<48)
	le.PutUint64(rec[32:], uint64(t0.UnixNano()/100+116444736000000000))
	le.PutUint32(rec[40:], 0x80000100)
	le.PutUint32(rec[52:], 0x20)
	le.PutUint16(rec[56:], 10)
	le.PutUint16(rec[58:], 60)
	for i, c := range "a.txt" {
		le.PutUint16(rec[60+2*i:], uint16(c))
	}
	j := filepath.Join(dir, "j")
	os.WriteFile(j, rec, 0o644)
	sh(t, "ntfscp", "-f", "-N", "$J", ntfsImg, j, "/$Extend/$UsnJrnl")
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	sh(t, "ntfs-3g", ntfsImg, mnt)
	sh(t, "cp", filepath.Join(src, "gone.bin"), filepath.Join(src, "keep.txt"), mnt)
	sh(t, "umount", mnt)
	sh(t, "ntfs-3g", ntfsImg, mnt)
	sh(t, "rm", filepath.Join(mnt, "gone.bin"))
	sh(t, "umount", mnt)
	return ext4Img, ntfsImg, data
}

// TestDeletedDir ingests both images and reads each volume's .deleted/ in
// a real mount: hidden from the root's listing, the recoverable file equal
// to icat's output and the original, deleted.txt naming it; a mount
// without Options.Deleted has no .deleted.
func TestDeletedDir(t *testing.T) {
	ext4Img, ntfsImg, data := deletedDisks(t)
	r := catalog.TestRepo(t)
	ingestImage(t, r, "vm", t0, map[string]string{"lin": ext4Img, "win": ntfsImg})
	mnt, _ := mountRepo(t, r, Options{Deleted: true})
	for _, c := range []struct{ disk, img, prefix, name string }{
		{"lin", ext4Img, "ino-", "-"}, {"win", ntfsImg, "mft-", `"gone.bin"`},
	} {
		root := filepath.Join(mnt, "vm", "latest", c.disk, "fs")
		ents, err := os.ReadDir(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.Name() == deletedDirName {
				t.Errorf("%s: .deleted is listed", c.disk)
			}
		}
		del, err := os.ReadDir(filepath.Join(root, deletedDirName))
		if err != nil {
			t.Fatalf("%s: %v", c.disk, err)
		}
		if len(del) != 2 || del[0].Name() != "deleted.txt" || !strings.HasPrefix(del[1].Name(), c.prefix) {
			t.Fatalf("%s/.deleted: %v, want deleted.txt and one %s file", c.disk, del, c.prefix)
		}
		got := readFile(t, filepath.Join(root, deletedDirName, del[1].Name()))
		icat := sh(t, "icat", c.img, strings.TrimPrefix(del[1].Name(), c.prefix))
		if !bytes.Equal(got, []byte(icat)) || !bytes.Equal(got, data) {
			t.Errorf("%s/%s: %d bytes; equal to icat (%d bytes) %v, to the original %v", c.disk, del[1].Name(), len(got), len(icat), bytes.Equal(got, []byte(icat)), bytes.Equal(got, data))
		}
		txt := string(readFile(t, filepath.Join(root, deletedDirName, "deleted.txt")))
		line := regexp.MustCompile(`(?m)^` + del[1].Name() + `\trecoverable\t20000\t\S+\t\S+\t\S+\t` + regexp.QuoteMeta(c.name) + `\t-$`)
		if !line.MatchString(txt) {
			t.Errorf("%s deleted.txt has no line for %s:\n%s", c.disk, del[1].Name(), txt)
		}
		if err := os.WriteFile(filepath.Join(root, deletedDirName, del[1].Name()), nil, 0o644); !errors.Is(err, syscall.EROFS) && !errors.Is(err, fs.ErrPermission) {
			t.Errorf("%s: write to a deleted file: %v, want EROFS", c.disk, err)
		}
	}
	plain, _ := mountRepo(t, r, Options{})
	if _, err := os.Stat(filepath.Join(plain, "vm", "latest", "lin", "fs", deletedDirName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("without Options.Deleted: stat .deleted: %v, want ENOENT", err)
	}
	// The NTFS change journal as CSV, hidden at the volume root.
	csv := string(readFile(t, filepath.Join(mnt, "vm", "latest", "win", "fs", usnFileName)))
	want := "disk,volume,usn,time,mft,seq,parent_mft,parent_seq,reason,attributes,name\nwin,fs,0," + t0.UTC().Format(time.RFC3339Nano) + ",64,1,5,5,"
	if !strings.HasPrefix(csv, want) || !strings.HasSuffix(csv, ",0x20,a.txt\n") || strings.Count(csv, "\n") != 2 {
		t.Errorf("%s:\n%s\nwant it to start %q", usnFileName, csv, want)
	}
	for _, p := range []string{filepath.Join(mnt, "vm", "latest", "lin", "fs", usnFileName), filepath.Join(plain, "vm", "latest", "win", "fs", usnFileName)} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stat %s: %v, want ENOENT (ext4, or a mount without Deleted)", p, err)
		}
	}
}
