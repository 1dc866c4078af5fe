package partition

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"path/filepath"
	"testing"
)

// Fuzz inputs describe a sparse disk so that real tables, whose sectors lie
// megabytes apart, fit in a small input:
//
//	uint32 LE  disk size in 512-byte units (at most maxFuzzSectors)
//	uint8      flags: 1 = recompute GPT CRCs after mutation
//	then spans: uint32 LE byte offset, uint16 LE length, length bytes.
//
// Everything outside the spans reads as zeros; later spans win.
const (
	fuzzUnit       = 512
	maxFuzzSectors = 1 << 22 // 2 GiB
	maxFuzzSpan    = 4096
	fuzzFixCRC     = 1
)

type span struct {
	off  int64
	data []byte
}

// sparseDisk reads zeros except where a span was given.
type sparseDisk struct {
	size  int64
	spans []span
}

func (d *sparseDisk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= d.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), d.size-off))
	clear(p[:n])
	for _, s := range d.spans {
		lo, hi := max(s.off, off), min(s.off+int64(len(s.data)), off+int64(n))
		if lo < hi {
			copy(p[lo-off:hi-off], s.data[lo-s.off:])
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func decodeSparse(data []byte) (*sparseDisk, byte) {
	if len(data) < 5 {
		return nil, 0
	}
	d := &sparseDisk{size: int64(binary.LittleEndian.Uint32(data)%maxFuzzSectors) * fuzzUnit}
	flags := data[4]
	rest := data[5:]
	for len(rest) >= 6 {
		off := int64(binary.LittleEndian.Uint32(rest))
		n := int(binary.LittleEndian.Uint16(rest[4:])) % (maxFuzzSpan + 1)
		rest = rest[6:]
		n = min(n, len(rest))
		d.spans = append(d.spans, span{off, rest[:n]})
		rest = rest[n:]
	}
	return d, flags
}

// encodeSparse keeps the non-zero bytes of img that fall in its first or
// last `edge` sectors (where partition tables live), as spans.
func encodeSparse(img []byte, edge int64, flags byte) []byte {
	n := int64(len(img) / fuzzUnit)
	out := binary.LittleEndian.AppendUint32(nil, uint32(n))
	out = append(out, flags)
	for s := int64(0); s < n; s++ {
		if s >= edge && s < n-edge {
			continue
		}
		sec := img[s*fuzzUnit : (s+1)*fuzzUnit]
		for i := 0; i < len(sec); {
			if sec[i] == 0 {
				i++
				continue
			}
			j := i
			for zeros := 0; j < len(sec) && zeros < 16; j++ { // merge short zero gaps
				if sec[j] == 0 {
					zeros++
				} else {
					zeros = 0
				}
			}
			j = len(bytes.TrimRight(sec[:j], "\x00"))
			out = binary.LittleEndian.AppendUint32(out, uint32(s*fuzzUnit+int64(i)))
			out = binary.LittleEndian.AppendUint16(out, uint16(j-i))
			out = append(out, sec[i:j]...)
			i = j
		}
	}
	return out
}

// fixGPTCRCs recomputes the CRCs of the GPT headers at LBA 1 and the last
// LBA (for 512- and 4096-byte sectors) so mutations reach the entry decoder.
func fixGPTCRCs(d *sparseDisk) {
	for _, ss := range []int64{512, 4096} {
		for _, lba := range []int64{1, d.size/ss - 1} {
			hdr := make([]byte, 512)
			if lba <= 0 {
				continue
			}
			if _, err := d.ReadAt(hdr, lba*ss); err != nil || string(hdr[:8]) != gptSignature {
				continue
			}
			num, size := binary.LittleEndian.Uint32(hdr[80:]), binary.LittleEndian.Uint32(hdr[84:])
			entriesLBA := int64(binary.LittleEndian.Uint64(hdr[72:]))
			if n := int64(num) * int64(size); n > 0 && n <= 1<<20 && entriesLBA > 0 && entriesLBA < d.size/ss {
				arr := make([]byte, n)
				d.ReadAt(arr, entriesLBA*ss)
				binary.LittleEndian.PutUint32(hdr[88:], crc32.ChecksumIEEE(arr))
			}
			fixHeaderCRC(hdr)
			d.spans = append(d.spans, span{lba * ss, hdr})
		}
	}
}

// fuzzRead reads a table and checks invariants every result must keep.
func fuzzRead(t *testing.T, data []byte) {
	d, flags := decodeSparse(data)
	if d == nil {
		return
	}
	if flags&fuzzFixCRC != 0 {
		fixGPTCRCs(d)
	}
	for _, read := range []func() (*Table, error){
		func() (*Table, error) { return Read(d, d.size) },
		func() (*Table, error) { return ReadSectorSize(d, d.size, 4096) },
	} {
		tab, err := read()
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not marked corrupt: %v", err)
			}
			continue
		}
		for _, p := range tab.Partitions {
			if p.Start < 0 || p.Size < 0 || p.Size > 0 && p.Start+p.Size > d.size {
				t.Fatalf("partition %d at %d+%d outside the %d-byte disk", p.Index, p.Start, p.Size, d.size)
			}
		}
	}
}

func seedFixtures(f *testing.F, names []string, edge int64, flags byte) {
	for _, name := range names {
		f.Add(encodeSparse(gunzip(f, filepath.Join("testdata", name)), edge, flags))
	}
}

func FuzzMBR(f *testing.F) {
	seedFixtures(f, []string{"mbr-small.img.gz", "hybrid-small.img.gz", "mbr-empty-small.img.gz"}, 1<<20, 0)
	f.Fuzz(fuzzRead)
}

func FuzzGPT(f *testing.F) {
	gpts := []string{"gpt-small.img.gz", "gpt4k-small.img.gz", "hybrid-small.img.gz"}
	seedFixtures(f, gpts, 1<<20, 0)
	seedFixtures(f, gpts, 1<<20, fuzzFixCRC)
	f.Add(encodeSparse(gunzip(f, filepath.Join("testdata", "lvm.img.gz")), 34, fuzzFixCRC))
	f.Fuzz(fuzzRead)
}

// FuzzLVMMetadata parses metadata text, builds the VG and opens every LV
// over PVs of zeros.
func FuzzLVMMetadata(f *testing.F) {
	img := gunzip(f, filepath.Join("testdata", "lvm.img.gz"))
	for _, text := range metadataTexts(f, img) {
		f.Add(text)
	}
	f.Add([]byte("vg {\nid = \"x\"\nseqno = 1\nextent_size = 8\nlogical_volumes { a { id = \"y\"\nsegment1 { start_extent = 0\nextent_count = 1\ntype = \"snapshot\"\ncow_store = \"a\" } } } }"))
	f.Fuzz(func(t *testing.T, text []byte) {
		root, err := parseConfig(text)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("parse error not marked corrupt: %v", err)
			}
			return
		}
		vg, err := decodeVG(root)
		if err != nil {
			return
		}
		vg.devs = map[string]*pvDevice{}
		zeros := &sparseDisk{size: 1 << 30}
		for _, pv := range vg.PVs {
			vg.devs[pv.UUID] = &pvDevice{r: zeros, size: zeros.size}
		}
		for _, lv := range vg.LVs {
			r, err := vg.Open(lv.Name)
			if err != nil {
				continue
			}
			b := make([]byte, 512)
			r.ReadAt(b, 0)
			r.ReadAt(b, max(0, r.Size()-100))
		}
	})
}

// metadataTexts returns the committed metadata text of every metadata area
// of the PVs in a disk image.
func metadataTexts(t testing.TB, img []byte) [][]byte {
	disk := bytes.NewReader(img)
	tab, err := Read(disk, int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	var texts [][]byte
	for _, p := range tab.Partitions {
		pv, err := readPVLabel(p.Section(disk), p.Size)
		if err != nil || pv == nil {
			t.Fatalf("partition %d: no PV (%v)", p.Index, err)
		}
		for _, a := range pv.mdas {
			text, _, err := pv.readMDA(a)
			if err != nil {
				t.Fatal(err)
			}
			texts = append(texts, text)
		}
	}
	if len(texts) == 0 {
		t.Fatal("no metadata text in the LVM fixture")
	}
	return texts
}
