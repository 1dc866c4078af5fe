package format

import (
	"bytes"
	"errors"
	"math/rand"
	"strings"
	"testing"
)

func TestChunkIDParse(t *testing.T) {
	id := HashChunk([]byte("x"))
	got, err := ParseChunkID(id.String())
	if err != nil || got != id {
		t.Fatalf("round trip: %v %v", got, err)
	}
	for _, bad := range []string{"", "zz", strings.Repeat("g", 64), id.String()[:63]} {
		if _, err := ParseChunkID(bad); err == nil {
			t.Errorf("ParseChunkID(%q) accepted", bad)
		}
	}
}

func TestCodec(t *testing.T) {
	enc := NewEncoder()
	text := bytes.Repeat([]byte("compress me "), 20000)
	rnd := make([]byte, 100000)
	rand.New(rand.NewSource(1)).Read(rnd)
	for _, in := range [][]byte{text, rnd, {1}} {
		st := bytes.Clone(enc.Encode(in))
		if len(in) == len(text) && st[0] != EncZstd {
			t.Fatal("text not compressed")
		}
		if len(in) == len(rnd) && st[0] != EncRaw {
			t.Fatal("random data not stored raw")
		}
		if n := PlainSize(st, MaxChunkSize); st[0] == EncZstd && n != len(in) || st[0] == EncRaw && n != MaxChunkSize {
			t.Fatalf("PlainSize %d for %d bytes (encoding %d)", n, len(in), st[0])
		}
		out, err := DecodeChunk(nil, st, len(in))
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("round trip: %v", err)
		}
		if _, err := DecodeChunk(nil, st, len(in)-1); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("oversize decode: %v", err)
		}
	}
	if _, err := DecodeChunk(nil, []byte{7, 1, 2}, 10); !errors.Is(err, ErrCorrupt) {
		t.Fatal("unknown encoding accepted")
	}
}

func FuzzDecode(f *testing.F) {
	enc := NewEncoder()
	f.Add(bytes.Clone(enc.Encode(bytes.Repeat([]byte("ab"), 1000))))
	f.Add(EncodeBlock(BlockLeaf, make([]ChunkID, 3)))
	f.Add([]byte(`{"version":2,"id":"00112233445566778899aabbccddeeff","encryption":"aes-256-gcm","keys":"keys/"}`))
	f.Add([]byte(`{"version":1,"vm":"a","time":"2026-11-20T01:00:00Z","chunk_size":262144,"disks":[{"name":"d","size":5}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		DecodeChunk(nil, b, MinChunkSize)
		DecodeBlock(b, BlockLeaf, 3)
		DecodeBlock(b, BlockRoot, 1)
		DecodeManifest(b)
		if c, err := DecodeConfig(b); err == nil {
			DecodeSealedConfig(b, c)
		}
		ParsePointKey(b)
	})
}
