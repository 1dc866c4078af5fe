package chunker

import (
	"bytes"
	"crypto/sha256"
	"math/rand"
	"slices"
	"testing"
)

var small = Params{Min: 16 << 10, Avg: 64 << 10, Max: 256 << 10}

func hashes() []Hash { return []Hash{XXH4K, Gear64} }

func cutter(t testing.TB, p Params, h Hash) *Cutter {
	t.Helper()
	c, err := NewHash(p, h)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func random(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// checkPieces checks the invariants of every cut: contiguous from off to
// the end, aligned, lengths within Min..Max unless the piece is cut short
// by a zero block or the end, holes exactly the zero blocks.
func checkPieces(t *testing.T, c *Cutter, data []byte, off int64, ps []Piece) {
	t.Helper()
	at := off
	for i, p := range ps {
		if p.Off != at || p.Len <= 0 {
			t.Fatalf("piece %d %+v does not continue at %d", i, p, at)
		}
		at = p.End()
		if p.Off%Block != 0 || (p.End()%Block != 0 && p.End() != off+int64(len(data))) {
			t.Fatalf("piece %d %+v not block-aligned", i, p)
		}
		b := data[p.Off-off : p.End()-off]
		if p.Hole {
			if !bytes.Equal(b, make([]byte, len(b))) {
				t.Fatalf("hole %+v holds data", p)
			}
			continue
		}
		for k := 0; k < len(b); k += Block {
			if bytes.Equal(b[k:min(k+Block, len(b))], zeroBlock[:min(Block, len(b)-k)]) {
				t.Fatalf("data piece %+v holds a zero block at %d", p, p.Off+int64(k))
			}
		}
		if p.Len > int64(c.p.Max) {
			t.Fatalf("piece %+v longer than max %d", p, c.p.Max)
		}
		last := i == len(ps)-1
		short := last || ps[i+1].Hole
		if p.Len < int64(c.p.Min) && !short {
			t.Fatalf("piece %+v shorter than min %d but not cut by a hole or the end", p, c.p.Min)
		}
	}
	if at != off+int64(len(data)) {
		t.Fatalf("pieces end at %d, data at %d", at, off+int64(len(data)))
	}
}

// chunkSet is the set of data chunk contents of a cut, by hash.
func chunkSet(data []byte, ps []Piece) map[[32]byte]int64 {
	m := map[[32]byte]int64{}
	for _, p := range ps {
		if !p.Hole {
			m[sha256.Sum256(data[p.Off:p.End()])] = p.Len
		}
	}
	return m
}

func TestParams(t *testing.T) {
	for _, p := range []Params{{0, 4096, 4096}, {4096, 4095, 8192}, {8192, 4096, 16384}, {4096, 16384, 8192}, {-4096, 4096, 4096}} {
		if _, err := New(p); err == nil {
			t.Errorf("New(%+v) accepted", p)
		}
	}
	if _, err := NewHash(small, Hash(7)); err == nil {
		t.Error("unknown hash accepted")
	}
	for _, p := range []Params{{4096, 4096, 4096}, {4096, 4096, 1 << 20}, {4096, 1 << 20, 1 << 20}, {256 << 10, 1 << 20, 4 << 20}} {
		if _, err := New(p); err != nil {
			t.Errorf("New(%+v): %v", p, err)
		}
	}
}

func TestInvariantsAndDeterminism(t *testing.T) {
	data := random(1, 24<<20+1000) // a short tail block
	// Zero runs of several lengths, one at the start, one at the very end.
	for _, z := range [][2]int{{0, 3}, {100, 1}, {700, 40}, {1500, 2}, {1501 + 64, 1}, {6000, 144}} {
		clear(data[z[0]*Block : (z[0]+z[1])*Block])
	}
	clear(data[len(data)-1000:])
	for _, h := range hashes() {
		for _, p := range []Params{small, {Block, 2 * Block, 8 * Block}, {64 << 10, 64 << 10, 64 << 10}, {256 << 10, 1 << 20, 4 << 20}} {
			c := cutter(t, p, h)
			ps := c.Cut(data, 0)
			checkPieces(t, c, data, 0, ps)
			if again := c.Cut(bytes.Clone(data), 0); !slices.Equal(ps, again) {
				t.Fatalf("%v %+v: two cuts of the same data differ", h, p)
			}
			if !ps[0].Hole || ps[0].Len != 3*Block || !ps[len(ps)-1].Hole {
				t.Fatalf("%v %+v: leading/trailing zeros are not holes: %+v ... %+v", h, p, ps[0], ps[len(ps)-1])
			}
		}
	}
}

// TestAverage checks the candidate rate gives the average asked for, on
// random data, for each hash and a spread of min/max choices.
func TestAverage(t *testing.T) {
	data := random(2, 64<<20)
	for _, h := range hashes() {
		for _, p := range []Params{small, {4096, 32 << 10, 128 << 10}, {16 << 10, 64 << 10, 96 << 10}} {
			ps := cutter(t, p, h).Cut(data, 0)
			mean := float64(len(data)) / float64(len(ps))
			if mean < 0.9*float64(p.Avg) || mean > 1.1*float64(p.Avg) {
				t.Errorf("%v %+v: mean chunk %.0f bytes over %d chunks", h, p, mean, len(ps))
			}
		}
	}
}

// TestRestartAtBoundary: a selection started at any boundary of a cut
// makes the same pieces from there on (what changed-areas ingest relies on).
func TestRestartAtBoundary(t *testing.T) {
	data := random(3, 8<<20)
	clear(data[300*Block : 310*Block])
	for _, h := range hashes() {
		c := cutter(t, small, h)
		ps := c.Cut(data, 0)
		for i := 0; i < len(ps); i += 7 {
			off := ps[i].Off
			if got := c.Cut(data[off:], off); !slices.Equal(got, ps[i:]) {
				t.Fatalf("%v: restart at %d differs", h, off)
			}
		}
	}
}

// TestInsertAndMove: 4 KiB-aligned insertions and moves change only the
// chunks next to them; the rest are found again.
func TestInsertAndMove(t *testing.T) {
	base := random(4, 32<<20)
	ins := random(5, 20*Block)
	edits := map[string]func() []byte{
		"insert": func() []byte { return slices.Concat(base[:1000*Block], ins, base[1000*Block:]) },
		"delete": func() []byte { return slices.Concat(base[:3000*Block], base[3017*Block:]) },
		"move": func() []byte { // a 4 MiB run moves 3 MiB further on
			a, b := 2000*Block, 3024*Block
			return slices.Concat(base[:a], base[b:b+768*Block], base[a:b], base[b+768*Block:])
		},
		"zeros": func() []byte { // a file freed in the middle
			v := bytes.Clone(base)
			clear(v[5000*Block : 5100*Block])
			return v
		},
	}
	for _, h := range hashes() {
		c := cutter(t, small, h)
		old := chunkSet(base, c.Cut(base, 0))
		for name, edit := range edits {
			v := edit()
			ps := c.Cut(v, 0)
			checkPieces(t, c, v, 0, ps)
			var newBytes int64
			for sum, n := range chunkSet(v, ps) {
				if _, ok := old[sum]; !ok {
					newBytes += n
				}
			}
			// Each edit point costs about a chunk or two on each side.
			if limit := int64(6 * small.Avg); newBytes > limit {
				t.Errorf("%v %s: %d bytes in new chunks, want at most %d", h, name, newBytes, limit)
			}
		}
	}
}

// TestShiftedByUnalignedDataIsNotDeduplicated documents the price of
// block alignment: data moved by less than a block is new.
func TestShiftedByUnalignedDataIsNotDeduplicated(t *testing.T) {
	base := random(6, 4<<20)
	c := cutter(t, small, XXH4K)
	old := chunkSet(base, c.Cut(base, 0))
	v := slices.Concat([]byte("x"), base)
	for sum := range chunkSet(v, c.Cut(v, 0)) {
		if _, ok := old[sum]; ok {
			t.Fatal("a chunk survived a 1-byte shift: boundaries are not block-aligned content")
		}
	}
}

func TestAddZerosIsZeroMarks(t *testing.T) {
	c := cutter(t, small, XXH4K)
	data := random(9, 2<<20)
	clear(data[100*Block : 300*Block])
	marks := c.Marks(nil, data)
	a, b := c.NewSelector(0), c.NewSelector(0)
	var pa, pb []Piece
	for i, m := range marks {
		pa = a.Add(pa, m, Block)
		if i >= 100 && i < 300 {
			if i == 100 {
				pb = b.AddZeros(pb, 200*Block)
			}
			continue
		}
		pb = b.Add(pb, m, Block)
	}
	if pa, pb = a.Flush(pa), b.Flush(pb); !slices.Equal(pa, pb) {
		t.Fatalf("AddZeros cuts differently:\n%v\n%v", pa, pb)
	}
}

// TestKeyed: a seed moves the boundaries (another seed, or none, cuts
// known data differently) but keeps every property of the cut.
func TestKeyed(t *testing.T) {
	data := random(10, 16<<20)
	plain := cutter(t, small, XXH4K).Cut(data, 0)
	var cuts [][]Piece
	for _, seed := range [][]byte{[]byte("seed one"), []byte("seed two")} {
		c, err := NewKeyed(small, seed)
		if err != nil {
			t.Fatal(err)
		}
		ps := c.Cut(data, 0)
		checkPieces(t, c, data, 0, ps)
		if again := c.Cut(data, 0); !slices.Equal(ps, again) {
			t.Fatal("keyed cut not deterministic")
		}
		mean := float64(len(data)) / float64(len(ps))
		if mean < 0.85*float64(small.Avg) || mean > 1.15*float64(small.Avg) {
			t.Errorf("keyed mean chunk %.0f", mean)
		}
		cuts = append(cuts, ps)
	}
	if slices.Equal(cuts[0], plain) || slices.Equal(cuts[0], cuts[1]) {
		t.Fatal("the seed does not change the boundaries")
	}
	c, _ := NewKeyed(small, nil)
	if !slices.Equal(c.Cut(data, 0), plain) {
		t.Fatal("a nil seed is not the plain cutter")
	}
}

// TestBoundary: a boundary the caller names ends an open data chunk there
// and nothing else: an open hole, or nothing open, stays as it was, and
// the selection goes on as a selector started at that boundary would.
func TestBoundary(t *testing.T) {
	c, err := New(Params{Min: 4 * Block, Avg: 8 * Block, Max: 16 * Block})
	if err != nil {
		t.Fatal(err)
	}
	s := c.NewSelector(0)
	if out := s.Boundary(nil); len(out) != 0 {
		t.Fatalf("nothing open, Boundary gave %v", out)
	}
	var out []Piece
	for range 3 {
		out = s.Add(out, Data, Block)
	}
	out = s.Boundary(out)
	if want := []Piece{{Off: 0, Len: 3 * Block}}; !slices.Equal(out, want) {
		t.Fatalf("after 3 data blocks Boundary gave %v, want %v", out, want)
	}
	out = s.Add(out[:0], Zero, Block)
	if got := s.Boundary(out); len(got) != 0 {
		t.Fatalf("an open hole was cut: %v", got)
	}
	fresh := c.NewSelector(4 * Block)
	var a, b []Piece
	marks := []Mark{Data, Data, Data, Cand, Data, Data, Data, Data, Data, Cand, Data}
	for _, m := range marks {
		a = s.Add(a, m, Block)
		b = fresh.Add(b, m, Block)
	}
	a, b = s.Flush(a), fresh.Flush(b)
	if !slices.Equal(a[1:], b) || a[0] != (Piece{Off: 3 * Block, Len: Block, Hole: true}) {
		t.Errorf("after the boundary: %v, want the hole then %v", a, b)
	}
}
