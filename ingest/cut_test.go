package ingest

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest/chunker"
	"github.com/vmarchive/vmarchive/ingest/image"
)

const blk = chunker.Block

func repoCutter(t *testing.T, r *catalog.Repo) chunker.Params {
	t.Helper()
	c, err := cutter(r)
	if err != nil {
		t.Fatal(err)
	}
	return c.Params()
}

// ingestAt ingests disk d0 of vm at second sec.
func ingestAt(t *testing.T, r *catalog.Repo, sec int64, d *memDisk, changed []image.Extent) *catalog.Manifest {
	t.Helper()
	return ingestSpec(t, r, sec, DiskSpec{Name: "d0", Disk: d, Changed: changed})
}

func ingestSpec(t *testing.T, r *catalog.Repo, sec int64, spec DiskSpec) *catalog.Manifest {
	t.Helper()
	m, err := Ingest(context.Background(), r, Options{VM: "vm", Time: time.Unix(1e9+sec, 0)}, []DiskSpec{spec})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkPoint reads the point's disk d0 back through its map and compares
// it with want; it returns the map's extents.
func checkPoint(t *testing.T, r *catalog.Repo, m *catalog.Manifest, want []byte) []catalog.Extent {
	t.Helper()
	ext := extentsOf(t, r, m)
	got := make([]byte, 0, len(want))
	for _, x := range ext {
		if x.ID.IsZero() {
			got = append(got, make([]byte, x.Len)...)
			continue
		}
		b, err := r.ReadChunk(context.Background(), x.ID, int(x.Len))
		if err != nil || int64(len(b)) != x.Len {
			t.Fatalf("extent %+v: %d bytes, %v", x, len(b), err)
		}
		got = append(got, b...)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("point %s reads back wrong (%d bytes, want %d)", m.Name(), len(got), len(want))
	}
	return ext
}

func TestSparseDiskReadsOnlyAllocatedBlocks(t *testing.T) {
	r := catalog.TestRepo2(t)
	data := make([]byte, 300*blk+123)
	rng := rand.New(rand.NewSource(1))
	rng.Read(data[30*blk : 60*blk+10]) // spills 10 bytes into block 60
	rng.Read(data[150*blk+5 : 150*blk+9])
	rng.Read(data[300*blk:]) // the short tail
	d := &memDisk{data: data, alloc: []image.Extent{{Off: 150*blk + 5, Len: 4}, {Off: 30 * blk, Len: 30*blk + 10}, {Off: 300 * blk, Len: 123}}}
	m := ingestAt(t, r, 0, d, nil)
	ext := checkPoint(t, r, m, data)
	// Blocks 30..60, 150 and the tail were read, nothing else.
	if want := int64(32*blk + 123); d.readBytes() != want {
		t.Fatalf("read %d bytes, want %d: %v", d.readBytes(), want, d.reads)
	}
	// The extents are the chunker's cut of the whole disk's bytes.
	c, err := cutter(r)
	if err != nil {
		t.Fatal(err)
	}
	want := c.Cut(data, 0)
	var holes int64
	for i, p := range want {
		if i >= len(ext) || ext[i].Off != p.Off || ext[i].Len != p.Len || ext[i].ID.IsZero() != p.Hole {
			t.Fatalf("extents %v, want the cut %v", ext, want)
		}
		if p.Hole {
			holes++
		}
	}
	s := m.Disks[0].Stats
	if len(ext) != len(want) || s.Chunks != int64(len(want))-holes || s.ZeroChunks != holes || s.NewChunks != s.Chunks || s.ReadBytes != 32*blk+123 {
		t.Fatalf("stats %+v, extents %v", s, ext)
	}
}

// TestZeroBlocksAreHoles: zero blocks inside allocated data end chunks and
// are never stored; an all-zero disk stores nothing.
func TestZeroBlocksAreHoles(t *testing.T) {
	r := catalog.TestRepo2(t)
	data := make([]byte, 2<<20)
	rand.New(rand.NewSource(4)).Read(data)
	clear(data[100*blk : 101*blk])
	clear(data[200*blk : 230*blk])
	full := []image.Extent{{Off: 0, Len: int64(len(data))}}
	m := ingestAt(t, r, 0, &memDisk{data: data, alloc: full}, nil)
	ext := checkPoint(t, r, m, data)
	var holes []catalog.Extent
	for _, x := range ext {
		if x.ID.IsZero() {
			holes = append(holes, x)
		}
	}
	if want := []catalog.Extent{{Off: 100 * blk, Len: blk}, {Off: 200 * blk, Len: 30 * blk}}; !slices.Equal(holes, want) {
		t.Fatalf("holes %v, want %v", holes, want)
	}
	zero := make([]byte, 5<<20)
	m2, err := Ingest(context.Background(), r, Options{VM: "z", Time: time.Unix(1e9, 0)}, []DiskSpec{{Name: "d0", Disk: &memDisk{data: zero, alloc: []image.Extent{{Off: 0, Len: int64(len(zero))}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if s := m2.Disks[0].Stats; s.NewChunks != 0 || s.Chunks != 0 || s.ZeroChunks != 1 {
		t.Fatalf("all-zero disk: stats %+v", s)
	}
}

// TestMovedDataIsFoundAgain: data moved on the disk by whole blocks is
// stored once; the second point adds about a chunk per edge of the move.
func TestMovedDataIsFoundAgain(t *testing.T) {
	r := catalog.TestRepo2(t)
	p := repoCutter(t, r)
	v1 := make([]byte, 48<<20)
	rand.New(rand.NewSource(5)).Read(v1)
	full := []image.Extent{{Off: 0, Len: int64(len(v1))}}
	m1 := ingestAt(t, r, 0, &memDisk{data: v1, alloc: full}, nil)
	// 8 MiB moves 13 blocks down; 13 other blocks take its old place.
	v2 := slices.Concat(v1[:4<<20], v1[20<<20:20<<20+13*blk], v1[4<<20:12<<20], v1[12<<20+13*blk:20<<20], v1[20<<20+13*blk:])
	m2 := ingestAt(t, r, 60, &memDisk{data: v2, alloc: full}, nil)
	checkPoint(t, r, m2, v2)
	added := m2.Disks[0].Stats.NewChunks
	if limit := int64(4 * 3); added > limit || m1.Disks[0].Stats.NewChunks < 20 {
		t.Fatalf("second point added %d chunks (first %d), want at most %d (avg %d)", added, m1.Disks[0].Stats.NewChunks, limit, p.Avg)
	}
}

// TestUnchangedReingestStoresNothing: a second ingest of the same bytes
// reads them, stores nothing and makes the same map.
func TestUnchangedReingestStoresNothing(t *testing.T) {
	r := catalog.TestRepo2(t)
	data := make([]byte, 16<<20)
	rand.New(rand.NewSource(6)).Read(data)
	full := []image.Extent{{Off: 0, Len: int64(len(data))}}
	m1 := ingestAt(t, r, 0, &memDisk{data: data, alloc: full}, nil)
	m2 := ingestAt(t, r, 60, &memDisk{data: data, alloc: full}, nil)
	if m2.Disks[0].Map != m1.Disks[0].Map || m2.Disks[0].Stats.NewChunks != 0 {
		t.Fatalf("re-ingest: map %s vs %s, stats %+v", m2.Disks[0].Map, m1.Disks[0].Map, m2.Disks[0].Stats)
	}
}

func TestChangedAreasReuseThePreviousPoint(t *testing.T) {
	r := catalog.TestRepo2(t)
	v1 := make([]byte, 24<<20)
	rand.New(rand.NewSource(2)).Read(v1)
	full := []image.Extent{{Off: 0, Len: int64(len(v1))}}
	ctx := context.Background()
	m1 := ingestAt(t, r, 0, &memDisk{data: v1, alloc: full}, nil)
	old := extentsOf(t, r, m1)
	v2 := bytes.Clone(v1)
	copy(v2[10<<20+100:], "changed")
	b := old[len(old)/2].Off // an old boundary
	copy(v2[b-3:], "across a boundary")
	changed := []image.Extent{{Off: b - 3, Len: 17}, {Off: 10<<20 + 100, Len: 7}}
	d2 := &memDisk{data: v2, alloc: full}
	m2 := ingestAt(t, r, 60, d2, changed)
	ext := checkPoint(t, r, m2, v2)
	// Only the changed bytes come from the source; the rest of each
	// rebuilt chunk comes from the previous point's chunks in the store.
	if d2.readBytes() != 17+7 || m2.Disks[0].Stats.ReadBytes != 24 {
		t.Fatalf("read %d bytes (stats %d), want the 24 changed ones", d2.readBytes(), m2.Disks[0].Stats.ReadBytes)
	}
	// The cut is the one a full ingest makes.
	mf := ingestAt(t, r, 120, &memDisk{data: v2, alloc: full}, nil)
	if want := extentsOf(t, r, mf); !slices.Equal(ext, want) {
		t.Fatalf("changed-areas cut differs from the full cut:\n%v\n%v", ext, want)
	}
	s := m2.Disks[0].Stats
	if s.NewChunks < 2 || s.NewChunks > 6 || s.ReusedBytes < int64(len(v1))-int64(s.NewChunks)*int64(repoCutter(t, r).Max) {
		t.Fatalf("stats %+v", s)
	}
	// An empty list reads nothing and repeats the previous point.
	d3 := &memDisk{data: v2, alloc: full}
	m3 := ingestAt(t, r, 180, d3, []image.Extent{})
	if d3.readBytes() != 0 || m3.Disks[0].Map != mf.Disks[0].Map {
		t.Fatalf("empty change list: read %d, map %s vs %s", d3.readBytes(), m3.Disks[0].Map, mf.Disks[0].Map)
	}
	// A previous chunk lost from the store: that extent is read whole
	// from the source and what covers it is stored again.
	var lost catalog.Extent
	for _, x := range ext {
		if x.Off <= 10<<20 && x.End() > 10<<20 {
			lost = x
		}
	}
	os.Remove(filepath.Join(r.Dir(), "store", "data", lost.ID.String()[:2], lost.ID.String()))
	d4 := &memDisk{data: v2, alloc: full}
	m4 := ingestAt(t, r, 240, d4, changed)
	if d4.readBytes() != lost.Len+17 {
		t.Fatalf("with extent %+v lost, read %d bytes, want %d", lost, d4.readBytes(), lost.Len+17)
	}
	checkPoint(t, r, m4, v2)
	// A resized disk or an unknown one cannot take a list.
	_, err := Ingest(ctx, r, Options{VM: "vm"}, []DiskSpec{{Name: "d0", Disk: &memDisk{data: v2[:1<<20]}, Changed: changed[:0]}})
	if err == nil || !strings.Contains(err.Error(), "resize") {
		t.Fatalf("resized disk: %v", err)
	}
	_, err = Ingest(ctx, r, Options{VM: "other"}, []DiskSpec{{Name: "d0", Disk: d3, Changed: changed}})
	if !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("no previous point: %v", err)
	}
}

// TestChangedAreasCutAsFull: random edits (data, zeroed blocks, writes
// into holes, unaligned areas, areas next to each other) ingested as
// changed areas give the same extents as a full ingest of the result.
// Both ways of reading the unchanged bytes of a re-cut extent: the old
// chunk (a vCenter source) and the disk itself (a local image).
func TestChangedAreasCutAsFull(t *testing.T) {
	for _, local := range []bool{false, true} {
		t.Run(map[bool]string{false: "old chunks", true: "local disk"}[local], func(t *testing.T) { testChangedAreasCutAsFull(t, local) })
	}
}

func testChangedAreasCutAsFull(t *testing.T, local bool) {
	r := catalog.TestRepo2(t)
	rng := rand.New(rand.NewSource(7))
	data := make([]byte, 20<<20+5*blk+77)
	rng.Read(data)
	clear(data[3<<20 : 5<<20])
	clear(data[12<<20 : 12<<20+3*blk])
	full := []image.Extent{{Off: 0, Len: int64(len(data))}}
	ingestAt(t, r, 0, &memDisk{data: data, alloc: full}, nil)
	for round := range 6 {
		var changed []image.Extent
		for range 1 + rng.Intn(8) {
			off := rng.Int63n(int64(len(data)))
			n := min(1+rng.Int63n(600<<10), int64(len(data))-off)
			switch rng.Intn(3) {
			case 0:
				rng.Read(data[off : off+n])
			case 1:
				clear(data[off : off+n])
			default: // aligned, like CBT
				off = off / blk * blk
				n = min((n+blk-1)/blk*blk, int64(len(data))-off)
				rng.Read(data[off : off+n])
			}
			changed = append(changed, image.Extent{Off: off, Len: n})
		}
		sec := int64(100 * (round + 1))
		d := &memDisk{data: data, alloc: full}
		mc := ingestSpec(t, r, sec, DiskSpec{Name: "d0", Disk: d, Changed: changed, Local: local})
		got := checkPoint(t, r, mc, data)
		mf := ingestAt(t, r, sec+50, &memDisk{data: data, alloc: full}, nil)
		if want := extentsOf(t, r, mf); !slices.Equal(got, want) {
			t.Fatalf("round %d: changed-areas cut differs from the full cut:\n%v\n%v", round, got, want)
		}
		if mc.Disks[0].Map != mf.Disks[0].Map {
			t.Fatalf("round %d: same extents, different maps", round)
		}
	}
}

// TestChangedAreasZerosThenDataInAHole: two changed areas inside one old
// hole, the first written with zeros, the second with data. The zeros of
// the first and the unchanged zeros between them are one open hole; the
// data after it must be cut at its own offset (make demo's CBT capture
// once failed here with "internal error: chunk ... not in the rebuild's
// bytes").
func TestChangedAreasZerosThenDataInAHole(t *testing.T) {
	r := catalog.TestRepo2(t)
	data := make([]byte, 24<<20)
	rand.New(rand.NewSource(9)).Read(data)
	clear(data[4<<20 : 16<<20])
	full := []image.Extent{{Off: 0, Len: int64(len(data))}}
	ingestAt(t, r, 0, &memDisk{data: data, alloc: full}, nil)
	rand.New(rand.NewSource(10)).Read(data[10<<20 : 10<<20+5*blk])
	changed := []image.Extent{{Off: 4<<20 + 2*blk, Len: 8 * blk}, {Off: 10 << 20, Len: 5 * blk}}
	mc := ingestAt(t, r, 100, &memDisk{data: data, alloc: full}, changed)
	got := checkPoint(t, r, mc, data)
	mf := ingestAt(t, r, 150, &memDisk{data: data, alloc: full}, nil)
	if want := extentsOf(t, r, mf); !slices.Equal(got, want) {
		t.Fatalf("changed-areas cut differs from the full cut:\n%v\n%v", got, want)
	}
}

func TestReadPlanIsWholeBlocks(t *testing.T) {
	r := catalog.TestRepo2(t)
	alloc := []image.Extent{{Off: 5000, Len: 1}, {Off: 100, Len: 10}, {Off: 9000, Len: 4000}, {Off: 3 * blk, Len: 0}, {Off: 5 * blk, Len: 999}}
	plan, unit, err := ReadPlan(r, alloc, 5*blk+500)
	want := []image.Extent{{Off: 0, Len: 4 * blk}, {Off: 5 * blk, Len: 500}}
	if err != nil || !slices.Equal(plan, want) || unit < 8<<20 {
		t.Fatalf("ReadPlan = %v, %d, %v; want %v", plan, unit, err, want)
	}
}

// TestEncryptedRepoCutsWithItsSeed: an encrypted repository's boundaries
// come from its secret seed, so the same disk is cut elsewhere than in a
// plain repository (chunk lengths do not give known content away).
func TestEncryptedRepoCutsWithItsSeed(t *testing.T) {
	data := make([]byte, 24<<20)
	rand.New(rand.NewSource(8)).Read(data)
	full := []image.Extent{{Off: 0, Len: int64(len(data))}}
	plain := catalog.TestRepo2(t)
	enc := catalog.TestEncryptedRepo(t, "correct horse")
	a := checkPoint(t, plain, ingestAt(t, plain, 0, &memDisk{data: data, alloc: full}, nil), data)
	b := checkPoint(t, enc, ingestAt(t, enc, 0, &memDisk{data: data, alloc: full}, nil), data)
	same := 0
	for i := range min(len(a), len(b)) {
		if a[i].End() == b[i].End() {
			same++
		}
	}
	if len(a) < 8 || same == len(a) {
		t.Fatalf("plain and encrypted cuts agree: %d of %d boundaries", same, len(a))
	}
}

// regions is a BoundarySource that hands out cuts in regions ending at ends.
type regions struct {
	cuts, ends []int64
	asked      []int64
}

func (s *regions) Next(_ context.Context, from int64) ([]int64, int64, error) {
	s.asked = append(s.asked, from)
	k, _ := slices.BinarySearch(s.ends, from+1)
	to := s.ends[min(k, len(s.ends)-1)]
	lo, _ := slices.BinarySearch(s.cuts, from)
	hi, _ := slices.BinarySearch(s.cuts, to)
	return s.cuts[lo:hi], to, nil
}

// TestBoundariesEndChunks: chunks end at the given boundaries too, and a
// BoundarySource handing them out by region makes the same map as the
// list, asked in disk order; a source out of order is an error.
func TestBoundariesEndChunks(t *testing.T) {
	r := catalog.TestRepo2(t)
	data := make([]byte, 24<<20)
	rand.New(rand.NewSource(8)).Read(data)
	full := []image.Extent{{Off: 0, Len: int64(len(data))}}
	cuts := []int64{1<<20 + 7*blk, 9<<20 + 3*blk, 9<<20 + 90*blk, 17 << 20}
	m1 := ingestSpec(t, r, 0, DiskSpec{Name: "d0", Disk: &memDisk{data: data, alloc: full}, Boundaries: cuts})
	ends := map[int64]bool{}
	for _, x := range checkPoint(t, r, m1, data) {
		ends[x.End()] = true
	}
	for _, c := range cuts {
		if !ends[c] {
			t.Errorf("no chunk ends at boundary %d", c)
		}
	}
	src := &regions{cuts: cuts, ends: []int64{4 << 20, 9<<20 + 3*blk, 16 << 20, math.MaxInt64}}
	m2 := ingestSpec(t, r, 60, DiskSpec{Name: "d0", Disk: &memDisk{data: data, alloc: full}, BoundarySource: src})
	if m2.Disks[0].Map != m1.Disks[0].Map {
		t.Errorf("by regions: map %s, by list %s", m2.Disks[0].Map, m1.Disks[0].Map)
	}
	if want := []int64{0, 4 << 20, 9<<20 + 3*blk, 16 << 20}; !slices.Equal(src.asked, want) {
		t.Errorf("source asked from %v, want %v", src.asked, want)
	}
	bad := &regions{cuts: []int64{5 << 20, 3 << 20}, ends: []int64{math.MaxInt64}}
	_, err := Ingest(context.Background(), r, Options{VM: "vm", Time: time.Unix(1e9+120, 0)}, []DiskSpec{{Name: "d0", Disk: &memDisk{data: data, alloc: full}, BoundarySource: bad}})
	if err == nil || !strings.Contains(err.Error(), "not in order") {
		t.Errorf("out-of-order source: %v", err)
	}
}
