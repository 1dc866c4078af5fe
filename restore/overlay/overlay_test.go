package overlay

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestWrites: writes and zeroes at every alignment, on a disk whose size
// is not a multiple of the block, read back equal to the same changes
// made to a plain copy, after a reopen too; the base is never written.
func TestWrites(t *testing.T) {
	const size = 5*BlockSize + 1234
	base := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range base {
		base[i] = byte(rng.Uint32())
	}
	orig := bytes.Clone(base)
	model := bytes.Clone(base)
	path := filepath.Join(t.TempDir(), "ovl")
	o, err := Open(path, bytes.NewReader(base), size, "vm/p/disk0")
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []struct {
		off, n int64
		zero   bool
	}{
		{100, 10, false}, {4000, 200, false}, {BlockSize, 2 * BlockSize, false},
		{3*BlockSize - 1, BlockSize + 2, true}, {size - 10, 10, false}, {size - 1300, 1300, true},
		{0, size, false}, {1, size - 2, true}, {2 * BlockSize, BlockSize, true},
	} {
		data := make([]byte, w.n)
		for j := range data {
			data[j] = byte(i + 1)
		}
		if w.zero {
			clear(data)
			err = o.Zero(w.off, w.n)
		} else {
			_, err = o.WriteAt(data, w.off)
		}
		if err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
		copy(model[w.off:], data)
		check(t, o, model)
	}
	if _, err := o.WriteAt([]byte{1}, size); err == nil {
		t.Fatal("write past the end accepted")
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(base, orig) {
		t.Fatal("the base was written")
	}
	o, err = Open(path, bytes.NewReader(base), size, "vm/p/disk0")
	if err != nil {
		t.Fatal(err)
	}
	check(t, o, model)
	o.Close()
	if _, err := Open(path, bytes.NewReader(base), size, "vm/q/disk0"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("opened over another base: %v", err)
	}
	b, _ := os.ReadFile(path + ".map")
	b[len(b)-5] ^= 1
	os.WriteFile(path+".map", b, 0o600)
	if _, err := Open(path, bytes.NewReader(base), size, "vm/p/disk0"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged map: %v", err)
	}
	os.Remove(path + ".map")
	if _, err := Open(path, bytes.NewReader(base), size, "vm/p/disk0"); err == nil {
		t.Fatal("overlay without its map opened")
	}
}

func check(t *testing.T, o *Overlay, model []byte) {
	t.Helper()
	got := make([]byte, len(model))
	if _, err := o.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, model) {
		for i := range got {
			if got[i] != model[i] {
				t.Fatalf("byte %d: %#x, want %#x", i, got[i], model[i])
			}
		}
	}
}

func FuzzDecodeMap(f *testing.F) {
	f.Add((&Map{Ident: "vm/p/d", Size: 3*BlockSize + 1, Bits: []uint64{5}}).Encode())
	f.Add((&Map{Ident: "", Size: 0}).Encode())
	f.Add((&Map{Ident: "x", Size: 64 * 64 * BlockSize, Bits: make([]uint64, 64)}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMap(b)
		if err != nil {
			return
		}
		if !bytes.Equal(m.Encode(), b) {
			t.Fatal("decoded map encodes differently")
		}
	})
}
