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
