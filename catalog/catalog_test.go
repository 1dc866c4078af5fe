package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog/backend"
)

// testDisk mixes random, repeated, text and zero chunks, with a short tail.
func testDisk(seed int64, chunks int, cs int) []byte {
	rng := rand.New(rand.NewSource(seed))
	b := make([]byte, chunks*cs+cs/3)
	for i := 0; i < chunks; i++ {
		c := b[i*cs : (i+1)*cs]
		switch i % 4 {
		case 0:
			rng.Read(c)
		case 1:
			copy(c, bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog\n"), cs/44+1))
		case 2: // zeros
		case 3:
			rng.Read(c[:cs/2])
		}
	}
	rng.Read(b[chunks*cs:])
	return b
}

func TestWriteReadBack(t *testing.T) { allFormats(t, testWriteReadBack) }

func testWriteReadBack(t *testing.T, newRepo func(testing.TB) *Repo) {
	r := newRepo(t)
	ctx := context.Background()
	cs := testChunkSize(r)
	disk := testDisk(1, 9, cs)
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	TestWritePoint(t, r, "web01", t0, map[string][]byte{"disk0": disk})

	p, err := r.Point("web01", "latest")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != "2026-11-20T01:00:00Z" {
		t.Fatalf("latest is %s", p.Name())
	}
	d, err := r.OpenDisk(ctx, p, "disk0")
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(disk))
	if n, err := d.ReadAt(got, 0); n != len(disk) || (err != nil && err != io.EOF) {
		t.Fatalf("ReadAt: %d, %v", n, err)
	}
	if !bytes.Equal(got, disk) {
		t.Fatal("disk read back differs")
	}
	// Unaligned reads crossing chunk boundaries and the end.
	for _, off := range []int64{1, int64(cs) - 7, int64(3*cs) + 5, int64(len(disk)) - 10} {
		buf := make([]byte, cs+13)
		n, err := d.ReadAt(buf, off)
		want := disk[off:min(int64(len(disk)), off+int64(len(buf)))]
		if n != len(want) || !bytes.Equal(buf[:n], want) {
			t.Fatalf("ReadAt(%d): %d bytes, %v", off, n, err)
		}
		if n < len(buf) && err != io.EOF {
			t.Fatalf("short ReadAt(%d) gave %v, want io.EOF", off, err)
		}
	}
	var out bytes.Buffer
	if n, err := d.WriteTo(&out); err != nil || n != int64(len(disk)) || !bytes.Equal(out.Bytes(), disk) {
		t.Fatalf("WriteTo: %d, %v, equal %v", n, err, bytes.Equal(out.Bytes(), disk))
	}
}

func TestDedupAcrossPointsAndZeroElision(t *testing.T) {
	bothFormats(t, testDedupAcrossPointsAndZeroElision)
}

func testDedupAcrossPointsAndZeroElision(t *testing.T, newRepo func(testing.TB) *Repo) {
	r := newRepo(t)
	cs := testChunkSize(r)
	disk := testDisk(2, 8, cs)
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	TestWritePoint(t, r, "a", t0, map[string][]byte{"disk0": disk})
	n1 := countObjects(t, r)
	// Same data under another VM and a later point: nothing new but the manifests.
	TestWritePoint(t, r, "b", t0, map[string][]byte{"disk0": disk})
	TestWritePoint(t, r, "a", t0.Add(time.Hour), map[string][]byte{"disk0": disk})
	if n2 := countObjects(t, r); n2 != n1 {
		t.Fatalf("identical points stored %d new objects", n2-n1)
	}
	// 8 chunks: 2 random, 2 text (same), 2 zero, 2 half-random; plus tail,
	// 1 leaf, 1 root (format 2: one leaf that is the root).
	blocks := 2
	if r.Config().Chunking != nil {
		blocks = 1
	}
	if want := 2 + 1 + 2 + 1 + blocks; n1 != want {
		t.Fatalf("stored %d objects, want %d", n1, want)
	}
}

func countObjects(t *testing.T, r *Repo) int {
	n := 0
	if err := r.be.List(context.Background(), "data/", func(string, int64) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPointsOrderAndLookup(t *testing.T) {
	r := testRepo1(t)
	base := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	for _, vm := range []string{"web01", "db", "web0"} {
		for _, h := range []int{5, 1, 3} {
			TestWritePoint(t, r, vm, base.Add(time.Duration(h)*time.Hour), map[string][]byte{"d": []byte(vm)})
		}
	}
	pts, err := r.Points("web0")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pts {
		names = append(names, p.VM+"@"+p.Name())
	}
	want := "web0@2026-11-20T02:00:00Z web0@2026-11-20T04:00:00Z web0@2026-11-20T06:00:00Z"
	if strings.Join(names, " ") != want {
		t.Fatalf("points of web0: %v", names)
	}
	vms, _ := r.VMs()
	if strings.Join(vms, ",") != "db,web0,web01" {
		t.Fatalf("VMs: %v", vms)
	}
	if _, err := r.Point("web0", "2026-11-20T03:00:00Z"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing point: %v", err)
	}
	if _, err := r.Point("nope", "latest"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("latest of unknown VM: %v", err)
	}
	// Same VM and second again: refused.
	w := r.NewWriter()
	err = w.Commit(context.Background(), &Manifest{VM: "db", Time: base.Add(time.Hour)})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate point: %v", err)
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	r := testRepo1(t)
	_, err := Open(context.Background(), r.Dir(), Options{})
	if !errors.Is(err, ErrHeld) {
		t.Fatalf("second open: %v, want ErrHeld", err)
	}
	if !strings.Contains(err.Error(), "pid ") || !strings.Contains(err.Error(), "test") {
		t.Fatalf("message does not name the holder: %v", err)
	}
}

func TestVerifyFindsDamageAndMissing(t *testing.T) { bothFormats(t, testVerifyFindsDamageAndMissing) }

func testVerifyFindsDamageAndMissing(t *testing.T, newRepo func(testing.TB) *Repo) {
	r := newRepo(t)
	ctx := context.Background()
	cs := testChunkSize(r)
	disk := testDisk(3, 8, cs)
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	TestWritePoint(t, r, "web01", t0, map[string][]byte{"disk0": disk})
	TestWritePoint(t, r, "web01", t0.Add(time.Hour), map[string][]byte{"disk0": disk, "disk1": disk[:cs]})
	res, err := r.Verify(ctx, VerifyOptions{})
	if err != nil || len(res.Problems) != 0 {
		t.Fatalf("clean verify: %+v, %v", res, err)
	}
	flip := HashChunk(disk[0:cs])        // used at offset 0 of every disk
	gone := HashChunk(disk[4*cs : 5*cs]) // offset 4*cs of disk0
	p := filepath.Join(r.Dir(), storeDir, filepath.FromSlash(flip.ObjectName()))
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 0x40
	os.WriteFile(p, b, 0o600)
	os.Remove(filepath.Join(r.Dir(), storeDir, filepath.FromSlash(gone.ObjectName())))

	res, err = r.Verify(ctx, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 2 {
		t.Fatalf("problems: %+v", res.Problems)
	}
	for _, pr := range res.Problems {
		switch pr.ID {
		case flip:
			if pr.Missing || len(pr.Uses) != 3 || pr.Quarantined != QuarantineName(flip) {
				t.Errorf("flipped chunk: %+v", pr)
			}
			for _, u := range pr.Uses {
				if u.Offset != 0 {
					t.Errorf("flipped chunk use %+v, want offset 0", u)
				}
			}
		case gone:
			if !pr.Missing || len(pr.Uses) != 2 || pr.Uses[0].Offset != int64(4*cs) || pr.Uses[0].Disk != "disk0" {
				t.Errorf("missing chunk: %+v", pr)
			}
		default:
			t.Errorf("unexpected problem %+v", pr)
		}
	}
	// Scoped to the first point: disk1 is not in it.
	res, _ = r.Verify(ctx, VerifyOptions{VM: "web01", Point: "2026-11-20T01:00:00Z"})
	for _, pr := range res.Problems {
		if pr.ID == flip && len(pr.Uses) != 1 {
			t.Errorf("scoped verify uses: %+v", pr.Uses)
		}
	}
	// The damaged bytes moved out of data/ and are kept whole.
	if q, err := r.Backend().Get(ctx, QuarantineName(flip)); err != nil || !bytes.Equal(q, b) {
		t.Fatalf("quarantined copy: %v", err)
	}
	// Reading the damaged area fails naming the offset; the rest reads.
	pt, _ := r.Point("web01", "latest")
	d, _ := r.OpenDisk(ctx, pt, "disk0")
	if _, err := d.ReadAt(make([]byte, 10), 5); !errors.Is(err, backend.ErrNotFound) || !strings.Contains(err.Error(), "offset 0") {
		t.Fatalf("read of damaged chunk: %v", err)
	}
	if _, err := d.ReadAt(make([]byte, 10), int64(cs)); err != nil {
		t.Fatalf("read of healthy chunk: %v", err)
	}
}

func TestRebuildFromStoreAlone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	ctx := context.Background()
	if _, err := Init(ctx, dir, InitOptions{ChunkSize: MinChunkSize}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs := r.Config().ChunkSize
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		TestWritePoint(t, r, "vm"+string(rune('a'+i)), t0.Add(time.Duration(i)*time.Hour), map[string][]byte{"disk0": testDisk(int64(i), 5, cs)})
	}
	before, _ := r.Points("")
	r.Close()

	if err := os.RemoveAll(filepath.Join(dir, catalogDir)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, dir, Options{}); err == nil || !strings.Contains(err.Error(), "catalog rebuild") {
		t.Fatalf("open without catalog: %v", err)
	}
	res, err := Rebuild(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Points != 3 || res.Missing != 0 || len(res.Warnings) != 0 {
		t.Fatalf("rebuild: %+v", res)
	}
	r, err = Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	after, _ := r.Points("")
	if len(after) != len(before) {
		t.Fatalf("%d points after rebuild, want %d", len(after), len(before))
	}
	for i := range before {
		a, b := before[i], after[i]
		if a.VM != b.VM || !a.Time.Equal(b.Time) || a.Disks[0].Map != b.Disks[0].Map {
			t.Fatalf("point %d differs after rebuild: %+v vs %+v", i, a, b)
		}
		d, err := r.OpenDisk(ctx, b, "disk0")
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		d.WriteTo(&buf)
		if !bytes.Equal(buf.Bytes(), testDisk(int64(i), 5, cs)) {
			t.Fatalf("point %d reads differently after rebuild", i)
		}
	}
	// Dedup knowledge is back: writing the same data stores nothing new.
	n := countObjects(t, r)
	TestWritePoint(t, r, "vma", t0.Add(10*time.Hour), map[string][]byte{"disk0": testDisk(0, 5, cs)})
	if countObjects(t, r) != n {
		t.Fatal("chunks were stored again after rebuild")
	}
	if res, err := r.Verify(ctx, VerifyOptions{}); err != nil || len(res.Problems) != 0 {
		t.Fatalf("verify after rebuild: %+v %v", res, err)
	}
}

// TestInitMakesDataDirs: init makes the 256 directories of store/data
// (owner-only), so that a first ingest does not make them one at a time,
// and objects are stored into them.
func TestInitMakesDataDirs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	ctx := context.Background()
	if _, err := Init(ctx, dir, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, storeDir, "data")
	ents, err := os.ReadDir(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 256 {
		t.Fatalf("store/data holds %d entries after init, want 256", len(ents))
	}
	for i, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%02x", i); e.Name() != want || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Fatalf("store/data entry %d: %s %v, want directory %s, mode 0700", i, e.Name(), fi.Mode(), want)
		}
	}
	r, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	TestWritePoint(t, r, "vm", time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC), map[string][]byte{"disk0": testDisk(1, 5, MinChunkSize)})
	objects, _ := filepath.Glob(filepath.Join(data, "*", "*"))
	if ents, err := os.ReadDir(data); err != nil || len(ents) != 256 || len(objects) == 0 {
		t.Fatalf("store/data after a point: %d entries (%v), %d objects in them", len(ents), err, len(objects))
	}
}
