package ntfs

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// lzxVector is one file wimlib compressed with LZX (testdata/lzx/README.md):
// its WIM resource, laid out exactly as a WofCompressedData stream, and the
// size and SHA-256 of the original file as sha256sum printed them.
type lzxVector struct {
	name   string
	stream []byte
	size   int
	sum    string
}

func lzxVectors(t testing.TB) []lzxVector {
	t.Helper()
	manifest, err := os.ReadFile("testdata/lzx/MANIFEST")
	if err != nil {
		t.Fatal(err)
	}
	var out []lzxVector
	for _, line := range strings.Split(strings.TrimSpace(string(manifest)), "\n") {
		f := strings.Fields(line)
		size, _ := strconv.Atoi(f[1])
		for _, level := range []string{"lzx50", "lzx100"} {
			b, err := os.ReadFile(filepath.Join("testdata/lzx", f[0]+"."+level))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, lzxVector{f[0] + "." + level, b, size, f[2]})
		}
	}
	return out
}

// wofChunks splits a WofCompressedData stream into its chunks using the
// chunk table (4-byte start offsets of chunks 1..n-1).
func wofChunks(t testing.TB, stream []byte, size, chunk int) [][]byte {
	t.Helper()
	n := (size + chunk - 1) / chunk
	tbl := 4 * (n - 1)
	starts := []int{0}
	for i := 0; i < n-1; i++ {
		starts = append(starts, int(binary.LittleEndian.Uint32(stream[4*i:])))
	}
	starts = append(starts, len(stream)-tbl)
	var out [][]byte
	for i := 0; i < n; i++ {
		out = append(out, stream[tbl+starts[i]:tbl+starts[i+1]])
	}
	return out
}

// TestLZXVectors decodes chunks wimlib's LZX compressor made (two
// compression levels, so different block splits and parses) and checks
// the SHA-256 of the whole result against the original file's. It also
// checks that the vectors cover verbatim and aligned offset blocks and
// E8 translation.
func TestLZXVectors(t *testing.T) {
	types := map[uint32]int{}
	for _, v := range lzxVectors(t) {
		var got []byte
		for i, c := range wofChunks(t, v.stream, v.size, lzxWindow) {
			out := make([]byte, min(lzxWindow, v.size-i*lzxWindow))
			if len(c) == len(out) {
				copy(out, c) // stored raw
			} else {
				if err := decompressLZX(out, c); err != nil {
					t.Fatalf("%s chunk %d: %v", v.name, i, err)
				}
				types[lzxFirstBlockType(c)]++
			}
			got = append(got, out...)
		}
		if sum := sha256.Sum256(got); hex.EncodeToString(sum[:]) != v.sum || len(got) != v.size {
			t.Errorf("%s: decoded %d bytes with SHA-256 %x, want %d bytes %s", v.name, len(got), sum, v.size, v.sum)
		}
		if strings.HasPrefix(v.name, "x86") && bytes.Count(got, []byte{0xe8}) < 1000 {
			t.Errorf("%s: too few E8 bytes to exercise the translation", v.name)
		}
	}
	if types[lzxVerbatim] == 0 || types[lzxAligned] == 0 {
		t.Errorf("vectors start %d verbatim and %d aligned blocks; both are needed", types[lzxVerbatim], types[lzxAligned])
	}
}

// lzxFirstBlockType returns the 3-bit type of a chunk's first block.
func lzxFirstBlockType(c []byte) uint32 {
	b := lzxBits{in: c}
	v, _ := b.read(3)
	return v
}

// TestLZXUncompressedBlock decodes hand-built chunks holding LZX
// uncompressed blocks ([MS-PATCH] 2.3.2.3), which wimlib's compressor
// does not emit: header bits, padding to 16 bits, R0-R2, the raw bytes and
// a pad byte for odd sizes, then a second block after it.
func TestLZXUncompressedBlock(t *testing.T) {
	// Block 1: type 3, size flag 0, size 5 -> bits 011 0 0000000000000101,
	// 20 bits; padding fills the second word. Words (MSB first):
	// 0110 0000 0000 0000 | 0101 pppp pppp pppp.
	var in []byte
	in = binary.LittleEndian.AppendUint16(in, 0x6000)
	in = binary.LittleEndian.AppendUint16(in, 0x5000)
	for _, r := range []uint32{1, 2, 3} {
		in = binary.LittleEndian.AppendUint32(in, r)
	}
	in = append(in, "hello"...)
	in = append(in, 0) // odd size: one pad byte
	// Block 2: type 3, size flag 0, size 4 -> 011 0 0000000000000100; the
	// header ends mid-word, so alignment drops the rest of the second word.
	in = binary.LittleEndian.AppendUint16(in, 0x6000)
	in = binary.LittleEndian.AppendUint16(in, 0x4000)
	for _, r := range []uint32{1, 1, 1} {
		in = binary.LittleEndian.AppendUint32(in, r)
	}
	in = append(in, "-lzx"...)
	out := make([]byte, 9)
	if err := decompressLZX(out, in); err != nil || string(out) != "hello-lzx" {
		t.Fatalf("got %q (%v), want hello-lzx", out, err)
	}
	// The same chunk cut short must fail, not read past the input.
	for n := 0; n < len(in); n++ {
		if err := decompressLZX(make([]byte, 9), in[:n]); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
}

// TestLZXE8 checks the E8 post-translation rules on hand-made bytes.
func TestLZXE8(t *testing.T) {
	b := make([]byte, 32)
	b[0] = 0xe8
	binary.LittleEndian.PutUint32(b[1:], 100) // absolute 100 at 0: relative 100
	b[5] = 0xe8
	binary.LittleEndian.PutUint32(b[6:], uint32(0xfffffffe)) // -2 >= -5: +12000000
	b[10] = 0xe8
	binary.LittleEndian.PutUint32(b[11:], 12000000) // out of range: unchanged
	b[25] = 0xe8                                    // within the last 10 bytes: unchanged
	b[26] = 1
	lzxUndoE8(b)
	if got := binary.LittleEndian.Uint32(b[1:]); got != 100 {
		t.Errorf("at 0: %d, want 100", got)
	}
	if got := int32(binary.LittleEndian.Uint32(b[6:])); got != 12000000-2 {
		t.Errorf("at 5: %d, want %d", got, 12000000-2)
	}
	if got := binary.LittleEndian.Uint32(b[11:]); got != 12000000 {
		t.Errorf("at 10: %d, want unchanged", got)
	}
	if b[26] != 1 {
		t.Error("translated inside the last 10 bytes")
	}
}

// TestWOFLZXFile puts wimlib-made LZX streams on an ntfs-3g volume as WOF
// files (wof.sh) and reads them back through Open.
func TestWOFLZXFile(t *testing.T) {
	needTools(t, "mkntfs", "ntfs-3g", "setfattr", "xxd")
	for _, v := range lzxVectors(t) {
		if len(v.stream) > 60000 {
			continue // Linux caps an xattr, our way to write the stream, at 64 KiB
		}
		dir := t.TempDir()
		stream := filepath.Join(dir, "stream")
		if err := os.WriteFile(stream, v.stream, 0o644); err != nil {
			t.Fatal(err)
		}
		img := filepath.Join(dir, "wof.img")
		cmd := exec.Command("bash", "../testimages/ntfs/wof.sh", img, stream, itoa(v.size), itoa(wofLZX))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("wof.sh: %v\n%s", err, out)
		}
		fsys := openImage(t, img, nil)
		de, err := fsys.Lookup(fsys.Root(), "compact.bin")
		if err != nil {
			t.Fatal(err)
		}
		f, err := fsys.Open(de.Ino)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		if sum := sha256.Sum256(readAllFile(t, f)); hex.EncodeToString(sum[:]) != v.sum {
			t.Errorf("%s: read through WOF differs from the original", v.name)
		}
		break // one volume is enough; TestLZXVectors covers the rest
	}
}

func FuzzLZX(f *testing.F) {
	for _, v := range lzxVectors(f) {
		for _, c := range wofChunks(f, v.stream, v.size, lzxWindow) {
			f.Add(c, min(v.size, lzxWindow))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte, n int) {
		if n < 0 || n > lzxWindow {
			return
		}
		decompressLZX(make([]byte, n), in)
	})
}

// BenchmarkLZX decodes the wimlib-made chunks of the test vectors.
func BenchmarkLZX(b *testing.B) {
	type chunk struct {
		in []byte
		n  int
	}
	var chunks []chunk
	total := 0
	for _, v := range lzxVectors(b) {
		for i, c := range wofChunks(b, v.stream, v.size, lzxWindow) {
			n := min(lzxWindow, v.size-i*lzxWindow)
			if len(c) < n {
				chunks = append(chunks, chunk{c, n})
				total += n
			}
		}
	}
	out := make([]byte, lzxWindow)
	b.SetBytes(int64(total))
	for i := 0; i < b.N; i++ {
		for _, c := range chunks {
			if err := decompressLZX(out[:c.n], c.in); err != nil {
				b.Fatal(err)
			}
		}
	}
}
