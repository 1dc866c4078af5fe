package catalog

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog/backend"
	"github.com/vmarchive/vmarchive/catalog/format"
)

// synthExtents returns n extents of a disk: data of random aligned lengths
// up to max (ids made up, never stored), about one in ten a hole, the last
// one short of alignment.
func synthExtents(seed int64, n int, max int64) []Extent {
	rng := rand.New(rand.NewSource(seed))
	var es []Extent
	off := int64(0)
	for i := 0; i < n; i++ {
		e := Extent{Off: off, Len: (1 + rng.Int63n(max/format.MapAlign)) * format.MapAlign}
		if rng.Intn(10) != 0 || i > 0 && es[i-1].ID.IsZero() {
			var b [16]byte
			binary.LittleEndian.PutUint64(b[:], uint64(seed))
			binary.LittleEndian.PutUint64(b[8:], uint64(i))
			e.ID = HashChunk(b[:])
		}
		if i == n-1 {
			e.Len -= 512
		}
		es = append(es, e)
		off = e.End()
	}
	return es
}

// writeMap commits a point whose one disk has the map es, appending each
// hole in two pieces (which must merge).
func writeMap(t testing.TB, r *Repo, when time.Time, es []Extent) *Manifest {
	t.Helper()
	ctx := context.Background()
	w := r.NewWriter()
	size := es[len(es)-1].End()
	mb := w.NewMapBuilder(size)
	for _, e := range es {
		if e.ID.IsZero() && e.Len > 100 {
			if err := mb.Append(ctx, Extent{Off: e.Off, Len: 100}); err != nil {
				t.Fatal(err)
			}
			e.Off, e.Len = e.Off+100, e.Len-100
		}
		if err := mb.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	root, err := mb.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{VM: "synth", Time: when, Created: time.Now().UTC(), Disks: []DiskRecord{{Name: "disk0", Size: size, Map: root}}}
	if err := w.Commit(ctx, m); err != nil {
		t.Fatal(err)
	}
	return m
}

func openMap(t testing.TB, r *Repo, p *Manifest) *DiskMap {
	t.Helper()
	m, err := r.OpenDiskMap(context.Background(), p, &p.Disks[0])
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mapBlocks(t testing.TB, m *DiskMap) map[ChunkID]bool {
	t.Helper()
	set := map[ChunkID]bool{}
	if err := m.MapBlocks(context.Background(), func(id ChunkID) error { set[id] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	return set
}

// TestMapV2 builds a 20000-extent map and checks Lookup and Extents against
// the extents appended.
func TestMapV2(t *testing.T) {
	ctx := context.Background()
	r := TestRepo2(t)
	es := synthExtents(1, 20000, int64(r.cfg.Chunking.Max))
	p := writeMap(t, r, time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC), es)
	if p.Version != 2 || p.Chunking == nil || p.ChunkSize != 0 {
		t.Fatalf("manifest version %d chunking %v chunk size %d", p.Version, p.Chunking, p.ChunkSize)
	}
	m := openMap(t, r, p)
	if m.Size() != es[len(es)-1].End() || m.MaxChunk() != r.cfg.Chunking.Max || m.v2.root.level < 2 {
		t.Fatalf("size %d max chunk %d root level %d", m.Size(), m.MaxChunk(), m.v2.root.level)
	}
	var got []Extent
	if err := m.Extents(ctx, 0, m.Size(), func(e Extent) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(es) {
		t.Fatalf("%d extents, want %d", len(got), len(es))
	}
	for i := range es {
		if got[i] != es[i] {
			t.Fatalf("extent %d: %+v, want %+v", i, got[i], es[i])
		}
	}
	rng := rand.New(rand.NewSource(2))
	for k := 0; k < 2000; k++ {
		off := rng.Int63n(m.Size())
		i := sort.Search(len(es), func(i int) bool { return es[i].End() > off })
		e, err := m.Lookup(ctx, off)
		if err != nil || e != es[i] {
			t.Fatalf("Lookup(%d) = %+v, %v; want %+v", off, e, err, es[i])
		}
		to := off + rng.Int63n(64<<20)
		j := i
		err = m.Extents(ctx, off, to, func(e Extent) error {
			if j >= len(es) || e != es[j] {
				t.Fatalf("Extents(%d, %d): %+v at %d", off, to, e, j)
			}
			j++
			return nil
		})
		if err != nil || j < len(es) && es[j].Off < to {
			t.Fatalf("Extents(%d, %d) stopped at %d: %v", off, to, j, err)
		}
	}
	if _, err := m.Lookup(ctx, m.Size()); err == nil {
		t.Fatal("Lookup past the end accepted")
	}
}

// countingBackend records the objects read.
type countingBackend struct {
	backend.Backend
	mu    sync.Mutex
	reads map[string]int // guarded by mu
}

func (c *countingBackend) Get(ctx context.Context, name string) ([]byte, error) {
	c.mu.Lock()
	c.reads[name]++
	c.mu.Unlock()
	return c.Backend.Get(ctx, name)
}

// TestMapV2LocalChange changes one extent's data and splits another (an
// inserted chunk boundary): each changes a few map blocks, not the blocks
// after it, and ChangedExtents finds exactly those ranges reading no block
// the two maps share.
func TestMapV2LocalChange(t *testing.T) {
	ctx := context.Background()
	r := TestRepo2(t)
	dir := r.Dir()
	es := synthExtents(3, 30000, int64(r.cfg.Chunking.Max))
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	pa := writeMap(t, r, t0, es)
	es2 := append([]Extent(nil), es...)
	i, j := 7000, 21000
	for es2[i].ID.IsZero() || es2[j].ID.IsZero() || es2[j].Len < 2*format.MapAlign {
		i, j = i+1, j+1
	}
	es2[i].ID = HashChunk([]byte("changed"))
	half := es2[j].Len / format.MapAlign / 2 * format.MapAlign
	split := []Extent{{Off: es2[j].Off, Len: half, ID: HashChunk([]byte("left"))}, {Off: es2[j].Off + half, Len: es2[j].Len - half, ID: HashChunk([]byte("right"))}}
	es2 = append(es2[:j], append(split, es2[j+1:]...)...)
	pb := writeMap(t, r, t0.Add(time.Hour), es2)
	ba, bb := mapBlocks(t, openMap(t, r, pa)), mapBlocks(t, openMap(t, r, pb))
	fresh := 0
	for id := range bb {
		if !ba[id] {
			fresh++
		}
	}
	levels := openMap(t, r, pa).v2.root.level
	if len(ba) < 200 || fresh > 2*2*levels {
		t.Fatalf("%d blocks, %d new in the changed map (%d levels): want a few", len(ba), fresh, levels)
	}
	t.Logf("%d map blocks, %d levels; two changes made %d new blocks", len(ba), levels, fresh)

	r.Close()
	cb := &countingBackend{reads: map[string]int{}}
	r, err := Open(ctx, dir, Options{Command: "test", WrapBackend: func(b backend.Backend) backend.Backend { cb.Backend = b; return cb }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	type rng struct{ off, n int64 }
	var got []rng
	err = ChangedExtents(ctx, openMap(t, r, pa), openMap(t, r, pb), func(off, n int64) error {
		got = append(got, rng{off, n})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []rng{{es[i].Off, es[i].Len}, {es[j].Off, es[j].Len}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("changed %v, want %v", got, want)
	}
	for name := range cb.reads {
		for id := range ba {
			if bb[id] && id.ObjectName() == name {
				t.Errorf("read %s, a block both maps share", name)
			}
		}
	}
	if len(cb.reads) == 0 || len(cb.reads) > 2*fresh+2 {
		t.Errorf("%d objects read for %d new blocks", len(cb.reads), fresh)
	}
}

// bothFormats runs a test on a format-1 and a format-2 repository.
func bothFormats(t *testing.T, test func(*testing.T, func(testing.TB) *Repo)) {
	t.Run("format1", func(t *testing.T) { test(t, TestRepo) })
	t.Run("format2", func(t *testing.T) { test(t, TestRepo2) })
}

// allFormats is bothFormats plus an encrypted format-2 repository, for
// tests that do not name chunks by their plain hash.
func allFormats(t *testing.T, test func(*testing.T, func(testing.TB) *Repo)) {
	bothFormats(t, test)
	t.Run("format2-encrypted", func(t *testing.T) {
		test(t, func(t testing.TB) *Repo {
			return TestRepoWith(t, InitOptions{Chunking: format.DefaultChunking(MinChunkSize), Encrypt: true, Password: []byte("pw")})
		})
	})
}

// testChunkSize is the length TestWritePoint cuts r's disks into.
func testChunkSize(r *Repo) int {
	if c := r.Config().Chunking; c != nil {
		return c.Avg
	}
	return r.Config().ChunkSize
}

// TestChangedExtentsAcrossFormats compares the format-1 fixture's maps with
// format-2 maps of the same bytes (cut alike, in another repository): the
// same bytes show no change, and point 2 in format 2 against point 1 in
// format 1 changes what the two format-1 maps say.
func TestChangedExtentsAcrossFormats(t *testing.T) {
	ctx := context.Background()
	dir, _ := TestFormat1Repo(t)
	r1, err := Open(ctx, dir, Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	r2 := TestRepo2(t)
	pts, err := r1.Points("f1")
	if err != nil || len(pts) != 2 {
		t.Fatalf("points: %v", err)
	}
	var m1, m2 []*DiskMap
	for k, p := range pts {
		d, err := r1.OpenDisk(ctx, p, "disk0")
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := d.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		q := TestWritePoint(t, r2, "f2", p.Time, map[string][]byte{"disk0": buf.Bytes()})
		if k == 0 && mapBlocks(t, openMap(t, r2, q))[q.Disks[0].Map] != true {
			t.Fatal("root not among the map blocks")
		}
		m1, m2 = append(m1, openMap(t, r1, p)), append(m2, openMap(t, r2, q))
	}
	changed := func(a, b *DiskMap) [][2]int64 {
		var out [][2]int64
		if err := ChangedExtents(ctx, a, b, func(off, n int64) error { out = append(out, [2]int64{off, n}); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for k := range m1 {
		if c := changed(m1[k], m2[k]); len(c) != 0 {
			t.Errorf("point %d: same bytes in both formats changed %v", k+1, c)
		}
	}
	want := changed(m1[0], m1[1])
	if len(want) == 0 {
		t.Fatal("the fixture's points do not differ")
	}
	for _, got := range [][][2]int64{changed(m1[0], m2[1]), changed(m2[0], m2[1]), changed(m2[0], m1[1])} {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("changed %v, want %v", got, want)
		}
	}
}

// TestFetchSizesBuffer: a compressed chunk decodes into a buffer of its own
// size, not of the largest chunk, so the cache holds what it counts.
func TestFetchSizesBuffer(t *testing.T) {
	ctx := context.Background()
	r := TestRepo(t)
	plain := bytes.Repeat([]byte("a compressible line of text\n"), 10000)
	res, err := r.NewWriter().Add(ctx, NewEncoder(), plain)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.fetch(ctx, res.ID, format.MaxChunkLen)
	if err != nil || !bytes.Equal(b, plain) {
		t.Fatalf("fetch: %v", err)
	}
	if cap(b) > 2*len(b) {
		t.Fatalf("%d bytes in a buffer of %d", len(b), cap(b))
	}
}

// TestStreamNamesMapDamageOffset: a map block that cannot be read ends a
// stream with an error at the offset where the map walk stopped, not at 0.
func TestStreamNamesMapDamageOffset(t *testing.T) {
	ctx := context.Background()
	r := TestRepo2(t)
	w := r.NewWriter()
	chunk := bytes.Repeat([]byte("vmarchive"), 4096/9+1)[:format.MapAlign]
	res, err := w.Add(ctx, NewEncoder(), chunk)
	if err != nil {
		t.Fatal(err)
	}
	// Data and holes of varied lengths alternating: several distinct leaves.
	var es []Extent
	off := int64(0)
	for i := int64(0); i < 6000; i++ {
		e := Extent{Off: off, Len: format.MapAlign, ID: res.ID}
		if i%2 == 1 {
			e = Extent{Off: off, Len: (1 + i*i%97) * format.MapAlign}
		}
		es = append(es, e)
		off = e.End()
	}
	mb := w.NewMapBuilder(off)
	for _, e := range es {
		if err := mb.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	root, err := mb.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := &Manifest{VM: "synth", Time: time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC), Created: time.Now().UTC(),
		Disks: []DiskRecord{{Name: "disk0", Size: off, Map: root}}}
	if err := w.Commit(ctx, p); err != nil {
		t.Fatal(err)
	}
	var blocks []ChunkID
	err = openMap(t, r, p).MapBlocks(ctx, func(id ChunkID) error {
		if !slices.Contains(blocks, id) {
			blocks = append(blocks, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) < 3 {
		t.Fatalf("%d map blocks, want a root and several leaves", len(blocks))
	}
	r.Close()
	// Each block but the root (read by OpenDisk) in turn: the error is at
	// the end of the last extent streamed, and once past the start.
	var past bool
	for _, id := range blocks[1:] {
		obj := filepath.Join(r.Dir(), storeDir, filepath.FromSlash(id.ObjectName()))
		if err := os.Rename(obj, obj+".away"); err != nil {
			t.Fatal(err)
		}
		r2, err := Open(ctx, r.Dir(), Options{}) // nothing cached
		if err != nil {
			t.Fatal(err)
		}
		dr, err := r2.OpenDisk(ctx, p, "disk0")
		if err != nil {
			t.Fatal(err)
		}
		var end int64
		err = dr.Stream(ctx, func(e Extent, b []byte) error { end = e.End(); return nil })
		var re *ReadError
		if !errors.As(err, &re) || re.Offset != end || !strings.Contains(err.Error(), id.String()) {
			t.Fatalf("stream with map block %s gone: %v after %d bytes, want a ReadError at %d naming it", id, err, end, end)
		}
		past = past || end > 0
		r2.Close()
		os.Rename(obj+".away", obj)
	}
	if !past {
		t.Fatal("no missing map block stopped a stream past its start")
	}
}
