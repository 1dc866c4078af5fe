package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/format"
	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// ext4Image builds a 48 MiB ext4 image with mke2fs -d from a tree of
// seeded random files; version 2 changes one file and adds another.
func ext4Image(t *testing.T, version int) string {
	t.Helper()
	testenv.NeedTools(t, "mke2fs")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	rng := rand.New(rand.NewSource(7))
	for i := range 12 {
		b := make([]byte, 1<<20+rng.Intn(1<<20))
		rng.Read(b)
		if version == 2 && i == 3 {
			copy(b[1000:], bytes.Repeat([]byte("changed "), 4096))
		}
		sub := filepath.Join(tree, "d", string(rune('a'+i%3)))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, "f"+string(rune('0'+i))), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if version == 2 {
		b := make([]byte, 3<<20)
		rand.New(rand.NewSource(99)).Read(b)
		os.WriteFile(filepath.Join(tree, "new.bin"), b, 0o644)
	}
	img := filepath.Join(dir, "disk.img")
	cmd := exec.Command("mke2fs", "-q", "-F", "-t", "ext4", "-U", "6e2a2a1c-55a3-4f0e-8f35-0d4c6c1c0b7e", "-E", "hash_seed=6e2a2a1c-55a3-4f0e-8f35-0d4c6c1c0b7e", "-d", tree, img, "48M")
	cmd.Env = append(os.Environ(), "E2FSPROGS_FAKE_TIME=1700000000")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mke2fs: %v\n%s", err, out)
	}
	return img
}

// ingestImage ingests img as disk0 of a point of vm at when.
func ingestImage(t *testing.T, r *catalog.Repo, vm string, when time.Time, img string) *catalog.Manifest {
	t.Helper()
	d, err := image.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	m, err := Ingest(context.Background(), r, Options{VM: vm, Time: when, SourceKind: "image",
		Config: map[string][]byte{"vm.vmx": []byte("memsize = 1024\n")}}, []DiskSpec{{Name: "disk0", Disk: d, Source: img}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func repoWithChunkSize(t *testing.T, cs int) *catalog.Repo {
	return newTestRepo(t, catalog.InitOptions{Chunking: format.DefaultChunking(cs)})
}

// newTestRepo makes and opens a repository, closed when the test ends.
func newTestRepo(t *testing.T, opts catalog.InitOptions) *catalog.Repo {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	ctx := context.Background()
	pw := bytes.Clone(opts.Password)
	if _, err := catalog.Init(ctx, dir, opts); err != nil {
		t.Fatal(err)
	}
	r, err := catalog.Open(ctx, dir, catalog.Options{Command: "test", Password: func() ([]byte, error) { return bytes.Clone(pw), nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// samePoints checks that dst holds every point of src with the same
// disk bytes and config files.
func samePoints(t *testing.T, src, dst *catalog.Repo) {
	t.Helper()
	ps, err := src.Points("")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		q, err := dst.PointByID(p.ID())
		if err != nil {
			t.Fatalf("destination lacks %s: %v", p.ID(), err)
		}
		for _, d := range p.Disks {
			if !bytes.Equal(readAll(t, src, p, d.Name), readAll(t, dst, q, d.Name)) {
				t.Errorf("%s disk %s differs in the destination", p.ID(), d.Name)
			}
		}
		for name, f := range p.Config {
			a, _ := src.ReadBlob(context.Background(), f.ID, int(f.Size))
			g, ok := q.Config[name]
			if !ok {
				t.Fatalf("%s: config %s not copied", p.ID(), name)
			}
			b, err := dst.ReadBlob(context.Background(), g.ID, int(g.Size))
			if err != nil || !bytes.Equal(a, b) {
				t.Errorf("%s: config %s differs: %v", p.ID(), name, err)
			}
		}
	}
}

var t0 = time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)

// TestCopySendsOnlyNewChunks: with the same chunking the copy works on the
// maps; a destination holding the first point gets exactly the stored
// bytes the second point added in the source, and reads nothing it has.
func TestCopySendsOnlyNewChunks(t *testing.T) {
	ctx := context.Background()
	v1, v2 := ext4Image(t, 1), ext4Image(t, 2)
	src := catalog.TestRepo(t)
	dst := catalog.TestRepo(t)
	p1 := ingestImage(t, src, "web01", t0, v1)

	st, err := Copy(ctx, src, dst, CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.PointsCopied != 1 || st.Copied[0].Recut || st.BytesSent != p1.Disks[0].Stats.NewBytes {
		t.Fatalf("first copy: %+v, want 1 point, map-level, %d bytes sent", st, p1.Disks[0].Stats.NewBytes)
	}
	p2 := ingestImage(t, src, "web01", t0.Add(time.Hour), v2)
	st, err = Copy(ctx, src, dst, CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := p2.Disks[0].Stats
	if st.PointsCopied != 1 || st.PointsSkipped != 1 || st.BytesSent != want.NewBytes || st.ChunksSent != want.NewChunks {
		t.Fatalf("second copy: %+v, want 1 copied, 1 skipped, %d bytes in %d chunks sent", st, want.NewBytes, want.NewChunks)
	}
	// Read from the source: only the new chunks.
	if cfg := src.Config(); st.BytesRead > want.NewChunks*int64(cfg.MaxChunk()) {
		t.Errorf("read %d bytes from the source for %d new chunks", st.BytesRead, want.NewChunks)
	}
	samePoints(t, src, dst)
	st, err = Copy(ctx, src, dst, CopyOptions{})
	if err != nil || st.PointsCopied != 0 || st.PointsSkipped != 2 || st.BytesRead != 0 {
		t.Fatalf("third copy: %+v, %v; want nothing to do", st, err)
	}
}

// TestCopyRecut: a destination with another chunk size gets the disks
// re-cut, byte for byte the same, reading only the source's non-hole data.
func TestCopyRecut(t *testing.T) {
	ctx := context.Background()
	src := catalog.TestRepo(t)
	dst := repoWithChunkSize(t, 1<<20)
	p1 := ingestImage(t, src, "web01", t0, ext4Image(t, 1))
	ingestImage(t, src, "db01", t0.Add(time.Minute), ext4Image(t, 2))
	st, err := Copy(ctx, src, dst, CopyOptions{VMs: []string{"web01"}})
	if err != nil {
		t.Fatal(err)
	}
	var nonZero int64
	for _, x := range extentsOf(t, src, p1) {
		if !x.ID.IsZero() {
			nonZero += x.Len
		}
	}
	if st.PointsCopied != 1 || !st.Copied[0].Recut || st.BytesRead != nonZero {
		t.Fatalf("copy: %+v; want web01 only, re-cut, %d bytes read", st, nonZero)
	}
	if _, err := dst.Points("db01"); err != nil {
		t.Fatal(err)
	}
	if ps, _ := dst.Points("db01"); len(ps) != 0 {
		t.Errorf("db01 copied without being selected")
	}
	if _, err := Copy(ctx, src, dst, CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	samePoints(t, src, dst)
}

// TestCopyPlan: --latest, --dry-run and an unknown VM.
func TestCopyPlan(t *testing.T) {
	ctx := context.Background()
	src, dst := catalog.TestRepo(t), catalog.TestRepo(t)
	for i := range 3 {
		catalog.TestWritePoint(t, src, "vm", t0.Add(time.Duration(i)*time.Hour), map[string][]byte{"d": bytes.Repeat([]byte{byte(i + 1)}, 1<<20)})
	}
	st, err := Copy(ctx, src, dst, CopyOptions{Latest: 2, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Copied) != 2 || st.Copied[0].Point != "vm/2026-11-01T03:00:00Z" || st.Copied[1].Point != "vm/2026-11-01T04:00:00Z" {
		t.Fatalf("dry run plan: %+v", st.Copied)
	}
	if ps, _ := dst.Points(""); len(ps) != 0 {
		t.Fatalf("dry run copied %d points", len(ps))
	}
	if _, err := Copy(ctx, src, dst, CopyOptions{VMs: []string{"nosuch"}}); err == nil {
		t.Fatal("copy of an unknown VM succeeded")
	}
}

// TestCopyInterrupted: a copy whose context ends mid-point says so and
// leaves no point in the destination.
func TestCopyInterrupted(t *testing.T) {
	src, dst := catalog.TestRepo(t), catalog.TestRepo(t)
	ingestImage(t, src, "web01", t0, ext4Image(t, 1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := Copy(ctx, src, dst, CopyOptions{Progress: func(CopyProgress) { cancel() }})
	if err == nil || !strings.Contains(err.Error(), "interrupted during point web01/2026-11-01T02:00:00Z") {
		t.Fatalf("interrupted copy: %v", err)
	}
	if ps, _ := dst.Points(""); len(ps) != 0 {
		t.Fatalf("interrupted copy left %d points", len(ps))
	}
}

// TestCopyFormat1Fixture: the format-1 repository an older build wrote
// copies into a format-2 repository (the migration path: chunks re-cut by
// content) and into a format-1 one of its chunk size (map by map), every
// disk byte-exact against the fixture's sums.
func TestCopyFormat1Fixture(t *testing.T) {
	ctx := context.Background()
	dir, sums := catalog.TestFormat1Repo(t)
	src, err := catalog.Open(ctx, dir, catalog.Options{Command: "test", ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for _, c := range []struct {
		name  string
		dst   *catalog.Repo
		recut bool
	}{{"format2", catalog.TestRepo2(t), true}, {"format1", catalog.TestRepo1(t), false}} {
		st, err := Copy(ctx, src, c.dst, CopyOptions{})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if st.PointsCopied != 2 || st.Copied[0].Recut != c.recut {
			t.Fatalf("%s: %+v; want 2 points, re-cut %v", c.name, st, c.recut)
		}
		if v := c.dst.Config().Version; (v >= 2) != c.recut {
			t.Fatalf("%s: destination is format %d", c.name, v)
		}
		for i, name := range []string{"2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"} {
			p, err := c.dst.Point("f1", name)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(readAll(t, c.dst, p, "disk0"))
			if want := sums[fmt.Sprintf("p%d/disk0.img", i+1)]; hex.EncodeToString(sum[:]) != want {
				t.Errorf("%s: point %s disk0: sha256 %x, want %s", c.name, name, sum, want)
			}
		}
	}
}

// TestCopyEncrypted: plain to encrypted, and encrypted to encrypted under
// another key: chunks are re-hashed (keyed ids differ), the points read
// back the same, and a later point sends less than the first.
func TestCopyEncrypted(t *testing.T) {
	ctx := context.Background()
	src := catalog.TestRepo(t)
	cs := *src.Config().Chunking
	e1 := newTestRepo(t, catalog.InitOptions{Chunking: cs, Encrypt: true, Password: []byte("first password")})
	e2 := newTestRepo(t, catalog.InitOptions{Chunking: cs, Encrypt: true, Password: []byte("second password")})
	ingestImage(t, src, "web01", t0, ext4Image(t, 1))
	first, err := Copy(ctx, src, e1, CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !first.Copied[0].Recut || first.BytesSent == 0 {
		t.Fatalf("plain to encrypted: %+v; want re-hashed chunks", first)
	}
	ingestImage(t, src, "web01", t0.Add(time.Hour), ext4Image(t, 2))
	second, err := Copy(ctx, src, e1, CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if second.PointsCopied != 1 || second.BytesSent >= first.BytesSent/2 {
		t.Errorf("second point sent %d bytes, the first %d: want only its changes", second.BytesSent, first.BytesSent)
	}
	samePoints(t, src, e1)
	st, err := Copy(ctx, e1, e2, CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.PointsCopied != 2 || !st.Copied[0].Recut {
		t.Fatalf("encrypted to encrypted under another key: %+v", st)
	}
	samePoints(t, e1, e2)
}

// TestCopyFormat2MapLevel: between two format-2 repositories of the same
// chunking the copy works on the maps; a second point (the ext4 image's
// second version) sends exactly the stored bytes of the data chunks it
// added to the source.
func TestCopyFormat2MapLevel(t *testing.T) {
	ctx := context.Background()
	src, dst := catalog.TestRepo2(t), catalog.TestRepo2(t)
	v1, v2 := ext4Image(t, 1), ext4Image(t, 2)
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	catalog.TestWritePointConfig(t, src, "web01", t0, map[string][]byte{"disk0": read(v1)}, map[string][]byte{"vm.vmx": []byte("memsize = 1024\n")})
	if st, err := Copy(ctx, src, dst, CopyOptions{}); err != nil || st.PointsCopied != 1 || st.Copied[0].Recut {
		t.Fatalf("first copy: %+v %v; want one point, map by map", st, err)
	}
	before := objectSizes(t, src)
	p2 := catalog.TestWritePoint(t, src, "web01", t0.Add(time.Hour), map[string][]byte{"disk0": read(v2)})
	after := objectSizes(t, src)
	var want, wantChunks int64
	m, err := src.OpenDiskMap(ctx, p2, &p2.Disks[0])
	if err != nil {
		t.Fatal(err)
	}
	seen := map[catalog.ChunkID]bool{}
	m.Extents(ctx, 0, m.Size(), func(e catalog.Extent) error {
		name := e.ID.ObjectName()
		if _, old := before[name]; !e.ID.IsZero() && !old && !seen[e.ID] {
			seen[e.ID] = true
			want += after[name]
			wantChunks++
		}
		return nil
	})
	st, err := Copy(ctx, src, dst, CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.PointsCopied != 1 || st.Copied[0].Recut || st.BytesSent != want || st.ChunksSent != wantChunks {
		t.Fatalf("second copy: %+v; want map by map, %d bytes in %d chunks", st, want, wantChunks)
	}
	samePoints(t, src, dst)
}

// objectSizes lists the stored size of every data object of r.
func objectSizes(t *testing.T, r *catalog.Repo) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	if err := r.Backend().List(context.Background(), "data/", func(name string, size int64) error {
		out[name] = size
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCopyCarriesLocks: a point locked in the source is locked in the
// destination until the same date as it is stored; a later source date
// extends the lock of a point the destination has (never shortens it);
// NoLocks leaves the dates behind; LockFor locks the points that have no
// lock in the destination and leaves locked ones alone; a dry run says
// what it would lock and locks nothing.
func TestCopyCarriesLocks(t *testing.T) {
	ctx := context.Background()
	img := filepath.Join(t.TempDir(), "disk.raw")
	b := make([]byte, 1<<20)
	rand.New(rand.NewSource(3)).Read(b)
	if err := os.WriteFile(img, b, 0o644); err != nil {
		t.Fatal(err)
	}
	src := repoWithChunkSize(t, 256<<10)
	p1 := ingestImage(t, src, "web01", t0, img).ID()
	p2 := ingestImage(t, src, "web01", t0.Add(time.Hour), img).ID()
	now := time.Now().UTC().Truncate(time.Second)
	in2d, in3d := now.Add(48*time.Hour), now.Add(72*time.Hour)
	if _, err := src.LockPoints(ctx, []catalog.PointLock{{ID: p1, Until: in2d}}, true); err != nil {
		t.Fatal(err)
	}
	dates := func(r *catalog.Repo) []time.Time {
		t.Helper()
		ds, err := r.LockDates(ctx, []catalog.PointID{p1, p2})
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}

	dst := repoWithChunkSize(t, 256<<10)
	dry, err := Copy(ctx, src, dst, CopyOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if l := dry.Copied[0].LockedUntil; l == nil || !l.Equal(in2d) || dry.Copied[1].LockedUntil != nil {
		t.Fatalf("dry run: want %s to be locked until %s and %s not: %+v", p1, in2d, p2, dry.Copied)
	}
	if ds := dates(dst); !ds[0].IsZero() || !ds[1].IsZero() {
		t.Fatalf("a dry run locked points: %v", ds)
	}
	st, err := Copy(ctx, src, dst, CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l := st.Copied[0].LockedUntil; l == nil || !l.Equal(in2d) {
		t.Fatalf("copied %s: locked until %v, want %s", p1, l, in2d)
	}
	if ds := dates(dst); !ds[0].Equal(in2d) || !ds[1].IsZero() {
		t.Fatalf("destination lock dates %v, want [%s, none]", ds, in2d)
	}
	if err := dst.Forget(ctx, "web01", []time.Time{t0}); !errors.Is(err, catalog.ErrPointLocked) {
		t.Fatalf("forget of the copied locked point: %v, want %v", err, catalog.ErrPointLocked)
	}

	// A later source date reaches the destination's point; an earlier
	// destination-only date is not cut to the source's.
	if _, err := src.LockPoints(ctx, []catalog.PointLock{{ID: p1, Until: in3d}}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.LockPoints(ctx, []catalog.PointLock{{ID: p2, Until: in3d}}, true); err != nil {
		t.Fatal(err)
	}
	st, err = Copy(ctx, src, dst, CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.PointsSkipped != 2 || len(st.Relocked) != 1 || st.Relocked[0].ID != p1 || !st.Relocked[0].Until.Equal(in3d) {
		t.Fatalf("re-run after the source lock grew: skipped %d, relocked %+v; want %s until %s", st.PointsSkipped, st.Relocked, p1, in3d)
	}
	if ds := dates(dst); !ds[0].Equal(in3d) || !ds[1].Equal(in3d) {
		t.Fatalf("destination lock dates %v, want both %s", ds, in3d)
	}
	if st, err = Copy(ctx, src, dst, CopyOptions{}); err != nil || len(st.Relocked) != 0 {
		t.Fatalf("a third run relocked %+v (%v)", st.Relocked, err)
	}

	plain := repoWithChunkSize(t, 256<<10)
	if _, err := Copy(ctx, src, plain, CopyOptions{NoLocks: true}); err != nil {
		t.Fatal(err)
	}
	if ds := dates(plain); !ds[0].IsZero() || !ds[1].IsZero() {
		t.Fatalf("NoLocks: destination lock dates %v", ds)
	}

	// LockFor: p2 (no lock in the destination) gets now+1 day, p1 keeps
	// the source's later date; a re-run moves neither.
	fresh := repoWithChunkSize(t, 256<<10)
	if _, err := Copy(ctx, src, fresh, CopyOptions{VMs: []string{"web01"}, Latest: 1}); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	st, err = Copy(ctx, src, fresh, CopyOptions{LockFor: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ds := dates(fresh)
	if !ds[0].Equal(in3d) || ds[1].Before(before.Add(24*time.Hour).Truncate(time.Second)) || ds[1].After(time.Now().Add(24*time.Hour+time.Second)) {
		t.Fatalf("LockFor 1 day: destination lock dates %v, want %s and a day from now", ds, in3d)
	}
	if len(st.Relocked) != 1 || st.Relocked[0].ID != p2 {
		t.Fatalf("LockFor: relocked %+v, want %s (the destination had it unlocked)", st.Relocked, p2)
	}
	time.Sleep(1100 * time.Millisecond) // a new now+1 day would be a later second
	if st, err = Copy(ctx, src, fresh, CopyOptions{LockFor: 24 * time.Hour}); err != nil || len(st.Relocked) != 0 {
		t.Fatalf("LockFor again relocked %+v (%v)", st.Relocked, err)
	}
	if got := dates(fresh); !got[1].Equal(ds[1]) {
		t.Fatalf("LockFor again moved %s's date from %s to %s", p2, ds[1], got[1])
	}
}
