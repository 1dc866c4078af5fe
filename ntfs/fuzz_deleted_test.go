package ntfs

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"os"
	"testing"
)

// FuzzDeleted flips bytes of a volume with deleted files (as FuzzImage),
// then lists and reads every deleted record.
func FuzzDeleted(f *testing.F) {
	img := gunzipFile(f, "testdata/deleted.img.gz")
	fs, err := Open(bytes.NewReader(img), int64(len(img)), nil)
	if err != nil {
		f.Fatal(err)
	}
	// The seed must hold deleted files, or the fuzzer learns little.
	if ds, err := fs.DeletedRecords(); err != nil || len(ds) != 2 {
		f.Fatalf("deleted.img: %d deleted records, %v", len(ds), err)
	}
	f.Add([]byte{})
	f.Add([]byte{0x00, 0x0c, 0xff})
	f.Fuzz(func(t *testing.T, patch []byte) {
		b := bytes.Clone(img)
		for i := 0; i+3 <= len(patch); i += 3 {
			off := int(binary.LittleEndian.Uint16(patch[i:])) * 32 % len(b)
			b[off] ^= patch[i+2]
		}
		fs, err := Open(bytes.NewReader(b), int64(len(b)), nil)
		if err != nil {
			return
		}
		ds, _ := fs.DeletedRecords()
		for _, d := range ds {
			if fl, err := fs.OpenDeleted(d.Attr.Ino); err == nil {
				_, _ = io.ReadAll(io.NewSectionReader(fl, 0, min(fl.Size(), 1<<20)))
			}
		}
	})
}

func gunzipFile(tb testing.TB, name string) []byte {
	tb.Helper()
	z, err := os.Open(name)
	if err != nil {
		tb.Fatal(err)
	}
	defer z.Close()
	zr, err := gzip.NewReader(z)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// FuzzUSNRecords decodes arbitrary bytes as a journal stream: records,
// zero padding and garbage, with the 1 MiB buffer refills of USNRecords
// shrunk to 512 bytes (above the longest seed record) so records straddle them.
func FuzzUSNRecords(f *testing.F) {
	var j []byte
	for i, name := range []string{"a.txt", "", "long-name-ü-" + string(bytes.Repeat([]byte("x"), 100))} {
		j = append(j, encodeUSNV2(USNRecord{Major: 2, USN: int64(len(j)), Ino: uint64(64 + i), Reason: 0x80000100, Name: name})...)
	}
	f.Add(j)
	f.Add(append(make([]byte, 24), j...))
	f.Add([]byte{0x50, 0, 0, 0, 3, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := usnScanner{r: bytes.NewReader(b), fn: func(r USNRecord) error {
			if r.Major != 2 && r.Major != 3 {
				t.Fatalf("record of version %d", r.Major)
			}
			return nil
		}, buf: make([]byte, 512)}
		if err := s.scan(0, int64(len(b))); err != nil {
			t.Fatal(err)
		}
		_ = USNReasonString(uint32(len(b)) * 0x01010101)
	})
}
