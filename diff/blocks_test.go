package diff

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// TestBlockRanges checks chunk-level and 4 KiB-refined ranges against the
// bytes that were changed, including a grown disk and a zeroed chunk.
func TestBlockRanges(t *testing.T) {
	repo := catalog.TestRepo(t)
	cs := repo.Config().ChunkSize
	rng := rand.New(rand.NewPCG(1, 2))
	a := make([]byte, 2100*cs+5000) // three leaves, a short last chunk
	for i := range a {
		a[i] = byte(rng.Uint32())
	}
	clear(a[7*cs : 9*cs]) // zero chunks
	b := bytes.Clone(a)
	b[3*cs+10] ^= 1                      // one block
	copy(b[1500*cs+4096*3:], "changed")  // one block in the second leaf
	clear(b[20*cs : 21*cs])              // a chunk becomes zeros
	b[8*cs+4096*5] = 7                   // a zero chunk gets data
	b = append(b, make([]byte, 3*cs)...) // grown by zeros: no change
	b = append(b, bytes.Repeat([]byte{1}, 100)...)
	t0 := time.Unix(1700000000, 0)
	ma := catalog.TestWritePoint(t, repo, "vm", t0, map[string][]byte{"disk0": a})
	mb := catalog.TestWritePoint(t, repo, "vm", t0.Add(time.Hour), map[string][]byte{"disk0": b})

	want := func(bs int) []extent {
		var out []extent
		for off := 0; off < max(len(a), len(b)); off += bs {
			x, y := window(a, int64(off), int64(bs)), window(b, int64(off), int64(bs))
			if len(x) != len(y) && allZero(x) && allZero(y) {
				continue
			}
			if !bytes.Equal(x, y) {
				out = appendExtent(out, extent{int64(off), int64(max(len(x), len(y)))})
			}
		}
		return out
	}
	for _, blocks := range []bool{false, true} {
		r, err := Compare(context.Background(), repo, ma, mb, Options{Blocks: blocks, NoFiles: true})
		if err != nil {
			t.Fatal(err)
		}
		bs := cs
		if blocks {
			bs = 4096
		}
		w := want(bs)
		got := r.Disks[0].Ranges
		if len(got) != len(w) {
			t.Fatalf("blocks=%v: got %d ranges %+v, want %d %+v", blocks, len(got), got, len(w), w)
		}
		for i := range w {
			if got[i].Off != w[i].off || got[i].Len != w[i].n {
				t.Errorf("blocks=%v: range %d is %d+%d, want %d+%d", blocks, i, got[i].Off, got[i].Len, w[i].off, w[i].n)
			}
		}
		if r.Equal() {
			t.Error("Equal() for different points")
		}
	}
	r, err := Compare(context.Background(), repo, ma, ma, Options{Blocks: true})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Equal() || len(r.Disks[0].Ranges) != 0 {
		t.Errorf("a point compared with itself: %+v", r.Disks[0])
	}
}
