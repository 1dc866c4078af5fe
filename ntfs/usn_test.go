package ntfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

// encodeUSNV2 is a USN_RECORD_V2 as Windows writes it, for building test
// journals; usnjls of The Sleuth Kit is the independent decoder.
func encodeUSNV2(r USNRecord) []byte {
	name := utf16.Encode([]rune(r.Name))
	n := (60 + 2*len(name) + 7) &^ 7
	b := make([]byte, n)
	le := binary.LittleEndian
	le.PutUint32(b, uint32(n))
	le.PutUint16(b[4:], 2)
	le.PutUint64(b[8:], r.Ino|uint64(r.Seq)<<48)
	le.PutUint64(b[16:], r.ParentIno|uint64(r.ParentSeq)<<48)
	le.PutUint64(b[24:], uint64(r.USN))
	le.PutUint64(b[32:], uint64(r.Time.UnixNano()/100+116444736000000000))
	le.PutUint32(b[40:], r.Reason)
	le.PutUint32(b[52:], r.FileAttributes)
	le.PutUint16(b[56:], uint16(2*len(name)))
	le.PutUint16(b[58:], 60)
	for i, c := range name {
		le.PutUint16(b[60+2*i:], c)
	}
	return b
}

// usnImage makes an NTFS image whose file usn.dat holds, through ntfs-3g,
// a journal of 200 records after a 64 KiB hole (a sparse front, as a
// wrapped $J has), padded with zeros at page ends. usnjls reads a given inode's unnamed stream, so the
// records are there; ntfs-3g refuses to create $Extend/$UsnJrnl.
func usnImage(t *testing.T) (string, uint64, []USNRecord, []byte) {
	needTools(t, "mkntfs", "ntfs-3g", "usnjls", "ntfscp")
	img := filepath.Join(t.TempDir(), "usn.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 8<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkntfs", "-q", "-F", "-f", img).CombinedOutput(); err != nil {
		t.Fatalf("mkntfs: %v\n%s", err, out)
	}
	const front = 64 << 10
	var recs []USNRecord
	var j []byte
	reasons := []uint32{0x100, 0x80000100, 0x2, 0x1000, 0x80002000, 0x80000200, 0x8000}
	for i := range 200 {
		// Windows never lets a record cross a 4 KiB page: it pads with
		// zeros (usnjls depends on it).
		if rest := 4096 - len(j)%4096; rest < 128 {
			j = append(j, make([]byte, rest)...)
		}
		r := USNRecord{Major: 2, USN: int64(front + len(j)), Time: time.Unix(1700000000+int64(i), 0).UTC(),
			Ino: uint64(64 + i%7), Seq: uint16(1 + i%3), ParentIno: 5, ParentSeq: 5,
			Reason: reasons[i%len(reasons)], FileAttributes: 0x20, Name: fmt.Sprintf("file-%d-ü.txt", i)}
		recs = append(recs, r)
		j = append(j, encodeUSNV2(r)...)
	}
	ntfs3g(t, img, func(mnt string) {
		f, err := os.Create(filepath.Join(mnt, "usn.dat"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt(j, front); err != nil {
			t.Fatal(err)
		}
	})
	fsys := openImage(t, img, nil)
	e, err := fsys.Lookup(recordRoot, "usn.dat")
	if err != nil {
		t.Fatal(err)
	}
	return img, e.Ino, recs, j
}

func TestUSNRecords(t *testing.T) {
	img, ino, want, j := usnImage(t)
	fsys := openImage(t, img, nil)
	var got []USNRecord
	if err := fsys.USNRecords(ino, "", func(r USNRecord) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("decoded %d records, wrote %d; first got %+v want %+v", len(got), len(want), got[:min(1, len(got))], want[0])
	}
	out, err := exec.Command("usnjls", img, strconv.FormatUint(ino, 10)).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("usnjls: %v\n%s\n%.500s", err, stderr, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(got) {
		t.Fatalf("usnjls lists %d records, we %d", len(lines), len(got))
	}
	for i, line := range lines {
		f := strings.Split(line, "\t")
		r := got[i]
		sec, _ := strconv.ParseFloat(f[2], 64)
		reasons := strings.Fields(f[3])
		slices.Sort(reasons)
		ours := strings.Split(USNReasonString(r.Reason), "|")
		slices.Sort(ours)
		if len(f) != 5 || f[0] != fmt.Sprintf("%d-%d", r.Ino, r.Seq) || f[1] != fmt.Sprintf("%d-%d", r.ParentIno, r.ParentSeq) ||
			int64(sec) != r.Time.Unix() || !slices.Equal(reasons, ours) || f[4] != r.Name {
			t.Errorf("record %d: usnjls %q, we %+v (%s)", i, line, r, USNReasonString(r.Reason))
		}
	}
	if err := fsys.USNJournal(func(USNRecord) error { return nil }); !errors.Is(err, ErrNoJournal) {
		t.Errorf("USNJournal of a volume mkntfs made: %v, want ErrNoJournal", err)
	}
	// ntfscp writes where ntfs-3g will not: $Extend/$UsnJrnl:$J itself.
	src := filepath.Join(t.TempDir(), "j")
	if err := os.WriteFile(src, j, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ntfscp", "-f", "-N", "$J", img, src, "/$Extend/$UsnJrnl").CombinedOutput(); err != nil {
		t.Fatalf("ntfscp: %v\n%s", err, out)
	}
	got = nil
	if err := openImage(t, img, nil).USNJournal(func(r USNRecord) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("USNJournal: %d records, want %d", len(got), len(want))
	}
}
