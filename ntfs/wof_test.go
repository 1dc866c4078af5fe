package ntfs

import (
	"bytes"
	"encoding/binary"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// xpressFlatEncode is a TEST-ONLY encoder for LZ77+Huffman ([MS-XCA] 2.1):
// it uses a flat code (all 512 symbols 9 bits long, canonical order = symbol
// order), literals and offset-3 matches of 3..17 bytes. Round trips through
// it check our decoder against our reading of the spec, not against
// Microsoft's implementation.
func xpressFlatEncode(data []byte) []byte {
	out := bytes.Repeat([]byte{0x99}, 256) // 512 lengths of 9
	var bits []bool
	put := func(v, n int) {
		for i := n - 1; i >= 0; i-- {
			bits = append(bits, v>>i&1 == 1)
		}
	}
	for i := 0; i < len(data); {
		l := 0
		for i >= 3 && i+l < len(data) && l < 17 && data[i+l] == data[i+l-3] {
			l++
		}
		if l >= 3 {
			put(256+(1<<4)+(l-3), 9) // offset 3 = 2^1 + 1: one extra bit
			put(1, 1)
			i += l
			continue
		}
		put(int(data[i]), 9)
		i++
	}
	for len(bits)%16 != 0 || len(bits) < 32 {
		bits = append(bits, false)
	}
	bits = append(bits, make([]bool, 32)...)
	for w := 0; w < len(bits); w += 16 {
		v := uint16(0)
		for _, b := range bits[w : w+16] {
			v <<= 1
			if b {
				v |= 1
			}
		}
		out = binary.LittleEndian.AppendUint16(out, v)
	}
	return out
}

func TestXpressHuffmanFlatCode(t *testing.T) {
	data := []byte("abcabcabcabcabcabcabcXYZ-abcabcabcabcabc")
	got := make([]byte, len(data))
	if err := decompressXpressHuffman(got, xpressFlatEncode(data)); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("decoded %q (%v), want %q", got, err, data)
	}
}

// TestXpressHuffmanHandVector decodes a buffer built by hand from [MS-XCA]
// 2.2: symbol 'a' (0x61) and match symbol 0x112 (offset bits 1, length
// nibble 2) have 1-bit codes ('a' = 0, 0x112 = 1 by canonical order), all
// other symbols are absent. Bits: a a a <match: 1, extra bit 0 => offset 2,
// length 2+3=5>, then padding. So "aaa" + 5 bytes copied from 2 back.
func TestXpressHuffmanHandVector(t *testing.T) {
	in := make([]byte, 256)
	in[0x61/2] = 1 << 4 // symbol 0x61 is odd: high nibble
	in[0x112/2] = 1     // symbol 0x112 is even: low nibble
	// bits 0 0 0 1 0 then zeros: first word 0b0001_0000_0000_0000.
	in = append(in, 0x00, 0x10, 0, 0, 0, 0, 0, 0)
	got := make([]byte, 8)
	if err := decompressXpressHuffman(got, in); err != nil || string(got) != "aaaaaaaa" {
		t.Fatalf("got %q (%v), want aaaaaaaa", got, err)
	}
}

// TestWOFFile builds a WOF-compressed file on an ntfs-3g volume (Linux cannot
// make them natively) and reads it back decompressed, across several chunks,
// one of them stored raw.
func TestWOFFile(t *testing.T) {
	needTools(t, "mkntfs", "ntfs-3g", "setfattr", "xxd")
	for _, alg := range []struct {
		id    int
		chunk int
	}{{wofXpress4K, 4096}, {wofXpress8K, 8192}, {wofXpress16K, 16384}} {
		rnd := rand.New(rand.NewSource(int64(alg.id)))
		// Linux caps an xattr (our way to write the stream) at 64 KiB.
		data := bytes.Repeat([]byte("compact os text "), 3*alg.chunk/32)
		raw := make([]byte, alg.chunk/2+alg.chunk) // incompressible: one chunk stored raw
		rnd.Read(raw)
		data = append(data, raw...)
		data = append(data, []byte("tail of the file, shorter than one chunk")...)
		var table, body []byte
		nchunks := (len(data) + alg.chunk - 1) / alg.chunk
		for i := 0; i < nchunks; i++ {
			c := data[i*alg.chunk : min(len(data), (i+1)*alg.chunk)]
			enc := xpressFlatEncode(c)
			if len(enc) >= len(c) {
				enc = c
			}
			body = append(body, enc...)
			if i < nchunks-1 {
				table = binary.LittleEndian.AppendUint32(table, uint32(len(body)))
			}
		}
		dir := t.TempDir()
		stream := filepath.Join(dir, "stream")
		if err := os.WriteFile(stream, append(table, body...), 0o644); err != nil {
			t.Fatal(err)
		}
		img := filepath.Join(dir, "wof.img")
		cmd := exec.Command("bash", "../testimages/ntfs/wof.sh", img, stream, itoa(len(data)), itoa(alg.id))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("wof.sh: %v\n%s", err, out)
		}
		fsys := openImage(t, img, nil)
		de, err := fsys.Lookup(fsys.Root(), "compact.bin")
		if err != nil {
			t.Fatal(err)
		}
		if de.Mode != sIFREG {
			t.Errorf("WOF file mode %o, want regular", de.Mode)
		}
		f, err := fsys.Open(de.Ino)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAllFile(t, f); !bytes.Equal(got, data) {
			t.Errorf("algorithm %d: decompressed data differs", alg.id)
		}
		part := make([]byte, 100)
		if _, err := f.ReadAt(part, int64(alg.chunk)-50); err != nil || !bytes.Equal(part, data[alg.chunk-50:alg.chunk+50]) {
			t.Errorf("algorithm %d: read across chunks: %v", alg.id, err)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
