package format

import (
	"bytes"
	"errors"
	"testing"
)

func testEntries(n int, last int64) []MapEntry {
	es := make([]MapEntry, n)
	for i := range es {
		es[i].Len = int64(i%7+1) * MapAlign
		if i%5 != 3 {
			es[i].ID = HashChunk([]byte{byte(i), byte(i >> 8)})
		}
	}
	es[n-1].Len = last
	return es
}

func TestMapBlockRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		level int
		es    []MapEntry
	}{
		{1, testEntries(1, 512)},
		{1, testEntries(130, 3*MapAlign+512)},
		{1, []MapEntry{{Len: 40 << 40}}}, // one hole of 40 TiB
		{2, []MapEntry{{Len: 1 << 30, ID: HashChunk([]byte("a"))}, {Len: 77 << 20, ID: HashChunk([]byte("b"))}}},
		{5, []MapEntry{{Len: MapAlign, ID: HashChunk([]byte("c"))}}},
	} {
		b := EncodeMapBlock(tc.level, tc.es)
		blk, err := DecodeMapBlock(b)
		if err != nil {
			t.Fatalf("level %d, %d entries: %v", tc.level, len(tc.es), err)
		}
		var total int64
		for i, e := range tc.es {
			total += e.Len
			if blk.Entries[i] != e {
				t.Fatalf("entry %d: %+v, want %+v", i, blk.Entries[i], e)
			}
		}
		if blk.Level != tc.level || len(blk.Entries) != len(tc.es) || blk.Total != total {
			t.Fatalf("level %d entries %d total %d", blk.Level, len(blk.Entries), blk.Total)
		}
	}
}

func TestMapBlockRejects(t *testing.T) {
	id := HashChunk([]byte("x"))
	good := EncodeMapBlock(1, []MapEntry{{Len: MapAlign, ID: id}, {Len: 100, ID: id}})
	for name, b := range map[string][]byte{
		"empty":            nil,
		"no entries":       {MapLeaf, 1, 0},
		"unknown kind":     append([]byte{9}, good[1:]...),
		"leaf at level 2":  append([]byte{MapLeaf, 2}, good[2:]...),
		"inner at level 1": EncodeMapBlock(1, nil)[:0],
		"unaligned middle": EncodeMapBlock(1, []MapEntry{{Len: 100, ID: id}, {Len: MapAlign, ID: id}}),
		"zero length":      EncodeMapBlock(1, []MapEntry{{Len: 0, ID: id}}),
		"stored zero id":   EncodeMapBlock(2, []MapEntry{{Len: MapAlign}}),
		"past max size":    EncodeMapBlock(2, []MapEntry{{Len: MaxDiskSize, ID: id}, {Len: MapAlign, ID: id}}),
		"truncated":        good[:len(good)-1],
		"overlong count":   append([]byte{MapLeaf, 1, 0x82, 0}, good[3:]...),
		"trailing byte":    append(bytes.Clone(good), 0),
		"too many entries": EncodeMapBlock(1, testEntries(MapBlockMax+1, MapAlign)),
		"level too high":   EncodeMapBlock(MapMaxLevel+1, []MapEntry{{Len: MapAlign, ID: id}}),
	} {
		if name == "inner at level 1" {
			b = append([]byte{MapInner, 1}, good[2:]...)
		}
		if _, err := DecodeMapBlock(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

func TestMapBoundarySpread(t *testing.T) {
	n := 0
	for i := 0; i < 1<<16; i++ {
		if MapBoundary(MapEntry{Len: MapAlign, ID: HashChunk([]byte{byte(i), byte(i >> 8)})}) {
			n++
		}
	}
	if want := 1 << 16 >> MapBlockBits; n < want*3/4 || n > want*5/4 {
		t.Errorf("%d boundaries in 65536 entries, want about %d", n, want)
	}
}

// FuzzMapBlock: whatever decodes re-encodes to the same bytes (one
// encoding per block) and keeps the invariants the maps rely on.
func FuzzMapBlock(f *testing.F) {
	f.Add(EncodeMapBlock(1, testEntries(130, 3*MapAlign+512)))
	f.Add(EncodeMapBlock(1, []MapEntry{{Len: 40 << 40}}))
	f.Add(EncodeMapBlock(2, []MapEntry{{Len: 1 << 30, ID: HashChunk([]byte("a"))}, {Len: 77 << 20, ID: HashChunk([]byte("b"))}}))
	f.Add(EncodeMapBlock(3, testEntries(16, MapAlign)[:0]))
	f.Fuzz(func(t *testing.T, b []byte) {
		blk, err := DecodeMapBlock(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not ErrCorrupt: %v", err)
			}
			return
		}
		if again := EncodeMapBlock(blk.Level, blk.Entries); !bytes.Equal(again, b) {
			t.Fatalf("re-encoded differently:\n%x\n%x", again, b)
		}
		var total int64
		for i, e := range blk.Entries {
			if e.Len <= 0 || e.Len%MapAlign != 0 && i != len(blk.Entries)-1 || blk.Level > 1 && e.ID.IsZero() {
				t.Fatalf("entry %d: %+v", i, e)
			}
			total += e.Len
		}
		if total != blk.Total || total > MaxDiskSize {
			t.Fatalf("total %d, sum %d", blk.Total, total)
		}
	})
}
