package ntfs

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"testing"
)

// seedVolume returns the boot sector and first MFT records of a volume
// made by mkntfs and ntfs-3g (testdata/README.md says how).
func seedVolume(f *testing.F) (boot []byte, records [][]byte) {
	z, err := os.Open("testdata/seed.bin.gz")
	if err != nil {
		f.Fatal(err)
	}
	defer z.Close()
	r, err := gzip.NewReader(z)
	if err != nil {
		f.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		f.Fatal(err)
	}
	for off := 512; off+1024 <= len(b); off += 1024 {
		records = append(records, b[off:off+1024])
	}
	return b[:512], records
}

func FuzzBootSector(f *testing.F) {
	boot, _ := seedVolume(f)
	f.Add(boot)
	f.Fuzz(func(t *testing.T, b []byte) {
		bs, err := decodeBootSector(b)
		if err == nil && (bs.ClusterSize <= 0 || bs.RecordSize <= 0 || bs.IndexBlockSize <= 0) {
			t.Fatalf("accepted bad geometry %+v", bs)
		}
	})
}

func FuzzMFTRecord(f *testing.F) {
	_, recs := seedVolume(f)
	for _, r := range recs {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		b = bytes.Clone(b)
		if applyFixups(b, "FILE") != nil {
			return
		}
		h, attrs, err := decodeRecord(b, 0)
		if err != nil {
			return
		}
		_ = h
		for _, a := range attrs {
			if a.Type == atAttributeList && a.Resident {
				decodeAttrList(a.Value)
			}
			if a.Type == atFileName && a.Resident {
				decodeFileName(a.Value)
			}
			if a.Type == atIndexRoot && a.Resident {
				if h, err := decodeIndexRoot(a.Value); err == nil {
					decodeIndexEntries(a.Value[h.EntriesOffset:h.EntriesEnd], false)
				}
			}
		}
		mergePieces(attrs)
	})
}

func FuzzRunlist(f *testing.F) {
	f.Add([]byte{0x21, 0x10, 0x00, 0x01, 0x00})
	f.Add([]byte{0x31, 0x08, 0x00, 0x10, 0x00, 0x01, 0x04, 0x21, 0x04, 0xf0, 0xff, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		runs, err := decodeRunlist(b, 0)
		if err != nil {
			return
		}
		vcn := int64(0)
		for _, r := range runs {
			if r.VCN != vcn || r.Length <= 0 || (r.LCN < 0 && r.LCN != sparseLCN) {
				t.Fatalf("bad run %+v", r)
			}
			vcn += r.Length
		}
	})
}

func FuzzIndexNode(f *testing.F) {
	// The first INDX block (VCN 0) of many/ in the image basic.sh builds
	// (testdata/README.md).
	z, err := os.Open("testdata/indx-many.bin.gz")
	if err != nil {
		f.Fatal(err)
	}
	defer z.Close()
	r, err := gzip.NewReader(z)
	if err != nil {
		f.Fatal(err)
	}
	blk, err := io.ReadAll(r)
	if err != nil {
		f.Fatal(err)
	}
	if c := bytes.Clone(blk); applyFixups(c, "INDX") != nil {
		f.Fatal("seed INDX block does not pass fixups")
	} else if es, err := decodeIndexBlock(c, 0, false); err != nil || len(es) < 10 {
		f.Fatalf("seed INDX block: %d entries (%v)", len(es), err)
	}
	f.Add(blk)
	f.Fuzz(func(t *testing.T, b []byte) {
		b = bytes.Clone(b)
		if applyFixups(b, "INDX") != nil {
			return
		}
		es, err := decodeIndexBlock(b, int64(len(b)%3), false)
		if err != nil {
			return
		}
		for _, e := range es {
			if e.Key != nil {
				decodeFileName(e.Key)
			}
		}
		decodeIndexBlock(b, 0, true)
	})
}

func FuzzLZNT1(f *testing.F) {
	f.Add([]byte{0x05, 0xb0, 0x00, 'a', 'b', 'c', 0x00, 0x00})
	f.Add(append([]byte{0xff, 0x3f}, bytes.Repeat([]byte{'x'}, 4096)...))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := make([]byte, 65536)
		decompressLZNT1(out, in)
	})
}

func FuzzXpressHuffman(f *testing.F) {
	f.Add(xpressFlatEncode([]byte("abcabcabcabcabc-xyz-abcabc")), 26)
	hand := make([]byte, 256)
	hand[0x61/2], hand[0x112/2] = 1<<4, 1
	f.Add(append(hand, 0x00, 0x10, 0, 0, 0, 0, 0, 0), 8)
	f.Fuzz(func(t *testing.T, in []byte, n int) {
		if n < 0 || n > 65536 {
			return
		}
		decompressXpressHuffman(make([]byte, n), in)
	})
}
