package ntfs

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"os"
	"testing"
)

// FuzzImage flips bytes of a whole small volume, then opens it and touches
// every API on every reachable inode, including the allocation map and
// directory index extents diff uses.
func FuzzImage(f *testing.F) {
	z, err := os.Open("testdata/tiny.img.gz")
	if err != nil {
		f.Fatal(err)
	}
	defer z.Close()
	zr, err := gzip.NewReader(z)
	if err != nil {
		f.Fatal(err)
	}
	img, err := io.ReadAll(zr)
	if err != nil {
		f.Fatal(err)
	}
	// The seed must be a volume the reader walks, or the fuzzer learns little.
	if fs, err := Open(bytes.NewReader(img), int64(len(img)), nil); err != nil {
		f.Fatal(err)
	} else if es, err := fs.ReadDir(fs.Root()); err != nil || len(es) < 3 {
		f.Fatalf("tiny.img root: %d entries, %v", len(es), err)
	}
	f.Add([]byte{})
	f.Add([]byte{0x00, 0x0c, 0xff}) // inside the MFT
	f.Add([]byte{0x30, 0x00, 0x80, 0x28, 0x00, 0x01})
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
		_, _ = fs.Allocation()
		walkImage(fs, fs.Root(), 0)
	})
}

func walkImage(fs *FS, dir uint64, depth int) {
	if depth > 8 {
		return
	}
	_, _ = fs.IndexExtents(dir)
	ents, err := fs.ReadDir(dir)
	if err != nil {
		return
	}
	for i, e := range ents {
		if i > 64 {
			return
		}
		_, _ = fs.Lookup(dir, e.Name)
		_, _ = fs.Stat(e.Ino)
		if names, err := fs.ListXattr(e.Ino); err == nil {
			for _, n := range names {
				_, _ = fs.GetXattr(e.Ino, n)
			}
		}
		_, _ = fs.Readlink(e.Ino)
		if e.Mode&0o170000 == sIFDIR {
			walkImage(fs, e.Ino, depth+1)
			continue
		}
		if fl, err := fs.Open(e.Ino); err == nil {
			_, _ = fl.Extents()
			buf := make([]byte, 4096)
			for off := int64(0); off < min(fl.Size(), 1<<20); off += 4096 {
				if _, err := fl.ReadAt(buf, off); err != nil && err != io.EOF {
					break
				}
			}
		}
	}
}
