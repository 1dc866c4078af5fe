package catalog

import (
	"context"
	"math/rand"
	"testing"
	"time"
)

// benchMaps commits two format-2 maps of n extents (average 512 KiB: a
// 500 GiB disk at n = 1M) differing in ten extents spread over the disk.
func benchMaps(b *testing.B, n int) (*Repo, *Manifest, *Manifest, []Extent) {
	r := TestRepo2(b)
	es := synthExtents(5, n, int64(r.cfg.Chunking.Max))
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	pa := writeMap(b, r, t0, es)
	es2 := append([]Extent(nil), es...)
	for k := 1; k <= 10; k++ {
		i := k * n / 11
		es2[i].ID = HashChunk([]byte{byte(k)})
	}
	pb := writeMap(b, r, t0.Add(time.Hour), es2)
	return r, pa, pb, es
}

// BenchmarkMapLookup: Lookup at random offsets of a 1M-extent map whose
// blocks are cached.
func BenchmarkMapLookup(b *testing.B) {
	ctx := context.Background()
	r, pa, _, _ := benchMaps(b, 1<<20)
	m := openMap(b, r, pa)
	if err := m.Extents(ctx, 0, m.Size(), func(Extent) error { return nil }); err != nil {
		b.Fatal(err) // every block now cached
	}
	rng := rand.New(rand.NewSource(1))
	for b.Loop() {
		if _, err := m.Lookup(ctx, rng.Int63n(m.Size())); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChangedExtents: compare two 1M-extent maps that differ in ten
// extents, blocks read from the store (cache dropped) each time.
func BenchmarkChangedExtents(b *testing.B) {
	ctx := context.Background()
	r, pa, pb, _ := benchMaps(b, 1<<20)
	for b.Loop() {
		b.StopTimer()
		r.cache = newBlobCache(r.cache.max)
		ma, mb := openMap(b, r, pa), openMap(b, r, pb)
		b.StartTimer()
		n := 0
		if err := ChangedExtents(ctx, ma, mb, func(off, l int64) error { n++; return nil }); err != nil || n != 10 {
			b.Fatalf("%d ranges, %v", n, err)
		}
	}
}
