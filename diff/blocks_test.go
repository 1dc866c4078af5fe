package diff

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// sparseDisk is a disk that is zero except for the chunks listed.
type sparseDisk struct {
	size   int64
	chunks map[int64][]byte
}

func (d sparseDisk) chunk(i int64, cs int64) []byte {
	if c, ok := d.chunks[i]; ok {
		return c
	}
	return make([]byte, min(cs, max(0, d.size-i*cs)))
}

func (d sparseDisk) clone() sparseDisk {
	c := sparseDisk{d.size, map[int64][]byte{}}
	for i, b := range d.chunks {
		c.chunks[i] = bytes.Clone(b)
	}
	return c
}

// writeSparse commits a one-disk point without materialising the zeros.
func writeSparse(t *testing.T, repo *catalog.Repo, when time.Time, d sparseDisk) *catalog.Manifest {
	t.Helper()
	ctx := context.Background()
	w := repo.NewWriter()
	enc := catalog.NewEncoder()
	cs := int64(repo.Config().ChunkSize)
	mb := w.NewMapBuilder(d.size)
	for i := int64(0); i*cs < d.size; i++ {
		id := catalog.ZeroID
		if c, ok := d.chunks[i]; ok {
			res, err := w.Add(ctx, enc, c)
			if err != nil {
				t.Fatal(err)
			}
			id = res.ID
		}
		if err := mb.Set(ctx, i, id); err != nil {
			t.Fatal(err)
		}
	}
	root, err := mb.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := &catalog.Manifest{VM: "vm", Time: when.UTC(), Created: time.Now().UTC(),
		Disks: []catalog.DiskRecord{{Name: "disk0", Size: d.size, Map: root}}}
	if err := w.Commit(ctx, m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBlockRanges checks chunk-level and 4 KiB-refined ranges against the
// bytes that were changed: across three map leaves, a chunk zeroed, a zero
// chunk given data, and a disk grown by zeros then by data.
func TestBlockRanges(t *testing.T) {
	repo := catalog.TestRepoWith(t, catalog.InitOptions{ChunkSize: catalog.MinChunkSize}) // format 1: chunk i at i*cs
	cs := int64(repo.Config().ChunkSize)
	rng := rand.New(rand.NewPCG(1, 2))
	a := sparseDisk{2100*cs + 5000, map[int64][]byte{}}
	for _, i := range []int64{0, 3, 20, 500, 1024, 1500, 2047, 2048, 2100} {
		c := make([]byte, min(cs, a.size-i*cs))
		for j := range c {
			c[j] = byte(rng.Uint32())
		}
		a.chunks[i] = c
	}
	b := a.clone()
	b.chunks[3][10] ^= 1                                              // one block
	copy(b.chunks[1500][4096*3:], "changed")                          // one block in the second leaf
	delete(b.chunks, 20)                                              // a chunk becomes zeros
	b.chunks[8] = make([]byte, cs)                                    // a zero chunk gets data
	b.chunks[8][4096*5] = 7                                           //
	b.chunks[2100] = append(b.chunks[2100], make([]byte, cs-5000)...) // grown by zeros
	b.size = 2104*cs + 100                                            // then by data
	b.chunks[2104] = bytes.Repeat([]byte{1}, 100)
	for i := int64(2101); i < 2104; i++ {
		b.chunks[i] = make([]byte, cs)
	}
	t0 := time.Unix(1700000000, 0)
	ma := writeSparse(t, repo, t0, a)
	mb := writeSparse(t, repo, t0.Add(time.Hour), b)

	want := func(bs int64) []extent {
		var out []extent
		for i := int64(0); i*cs < max(a.size, b.size); i++ {
			ca, cb := a.chunk(i, cs), b.chunk(i, cs)
			for off := int64(0); off < cs; off += bs {
				x, y := window(ca, off, bs), window(cb, off, bs)
				if len(x) != len(y) && allZero(x) && allZero(y) || bytes.Equal(x, y) {
					continue
				}
				out = appendExtent(out, extent{i*cs + off, int64(max(len(x), len(y)))})
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
