package ingest

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest/image"
)

// Format-1 repositories (catalog.TestRepo1): fixed chunks (fixed.go).

func TestFixedSparseDiskReadsOnlyAllocated(t *testing.T) {
	r := catalog.TestRepo1(t)
	cs := int64(r.Config().ChunkSize)
	data := make([]byte, 20*cs+123)
	rng := rand.New(rand.NewSource(1))
	rng.Read(data[3*cs : 4*cs+10])    // spills 10 bytes into chunk 4
	rng.Read(data[15*cs+5 : 15*cs+9]) // a few bytes inside chunk 15
	rng.Read(data[20*cs:])            // the short tail
	d := &memDisk{data: data, alloc: []image.Extent{{Off: 15*cs + 5, Len: 4}, {Off: 3 * cs, Len: cs + 10}, {Off: 20 * cs, Len: 123}}}
	m, err := Ingest(context.Background(), r, Options{VM: "vm", Time: time.Unix(1e9, 0)}, []DiskSpec{{Name: "d0", Disk: d}})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, r, m, "d0"); !bytes.Equal(got, data) {
		t.Fatal("read back differs")
	}
	// Chunks 3, 4, 15 and the tail were read, nothing else.
	if want := 3*cs + 123; d.readBytes() != want {
		t.Fatalf("read %d bytes, want %d: %v", d.readBytes(), want, d.reads)
	}
	s := m.Disks[0].Stats
	if s.Chunks != 21 || s.ZeroChunks != 17 || s.NewChunks != 4 || s.ReadBytes != 3*cs+123 {
		t.Fatalf("stats %+v", s)
	}
}

func TestFixedChangedAreasReuseThePreviousPoint(t *testing.T) {
	r := catalog.TestRepo1(t)
	cs := int64(r.Config().ChunkSize)
	v1 := make([]byte, 64*cs)
	rand.New(rand.NewSource(2)).Read(v1)
	full := []image.Extent{{Off: 0, Len: int64(len(v1))}}
	ctx := context.Background()
	if _, err := Ingest(ctx, r, Options{VM: "vm", Time: time.Unix(1e9, 0)}, []DiskSpec{{Name: "d0", Disk: &memDisk{data: v1, alloc: full}}}); err != nil {
		t.Fatal(err)
	}
	v2 := bytes.Clone(v1)
	copy(v2[10*cs+100:], "changed")
	copy(v2[40*cs-3:], "across a boundary")
	changed := []image.Extent{{Off: 40*cs - 3, Len: 17}, {Off: 10*cs + 100, Len: 7}}
	d2 := &memDisk{data: v2, alloc: full}
	m, err := Ingest(ctx, r, Options{VM: "vm", Time: time.Unix(1e9+60, 0)}, []DiskSpec{{Name: "d0", Disk: d2, Changed: changed}})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, r, m, "d0"); !bytes.Equal(got, v2) {
		t.Fatal("incremental point reads back wrong")
	}
	// Only the changed bytes come from the source; the rest of each
	// touched chunk comes from the previous point's chunk in the store.
	if d2.readBytes() != 17+7 || m.Disks[0].Stats.ReadBytes != 24 {
		t.Fatalf("read %d bytes (stats %d), want the 24 changed ones", d2.readBytes(), m.Disks[0].Stats.ReadBytes)
	}
	if s := m.Disks[0].Stats; s.ReusedBytes != 61*cs || s.NewChunks != 3 {
		t.Fatalf("stats %+v", s)
	}
	// An empty list reads nothing and repeats the previous point.
	d3 := &memDisk{data: v2, alloc: full}
	m3, err := Ingest(ctx, r, Options{VM: "vm", Time: time.Unix(1e9+120, 0)}, []DiskSpec{{Name: "d0", Disk: d3, Changed: []image.Extent{}}})
	if err != nil || d3.readBytes() != 0 || m3.Disks[0].Map != m.Disks[0].Map {
		t.Fatalf("empty change list: %v, read %d, map %s vs %s", err, d3.readBytes(), m3.Disks[0].Map, m.Disks[0].Map)
	}
	// A previous chunk lost from the store: that chunk is read whole from the source.
	dm, _ := r.OpenDiskMap(ctx, m, &m.Disks[0])
	id10, _ := dm.Chunk(ctx, 10)
	os.Remove(filepath.Join(r.Dir(), "store", "data", id10.String()[:2], id10.String()))
	d4 := &memDisk{data: v2, alloc: full}
	m4, err := Ingest(ctx, r, Options{VM: "vm", Time: time.Unix(1e9+180, 0)}, []DiskSpec{{Name: "d0", Disk: d4, Changed: changed}})
	if err != nil {
		t.Fatal(err)
	}
	if d4.readBytes() != cs+17 {
		t.Fatalf("with chunk 10 lost, read %d bytes, want %d", d4.readBytes(), cs+17)
	}
	if got := readAll(t, r, m4, "d0"); !bytes.Equal(got, v2) {
		t.Fatal("point after a lost chunk reads back wrong")
	}
	// The lost chunk was stored again: every point is whole.
	if res, err := r.Verify(ctx, catalog.VerifyOptions{}); err != nil || len(res.Problems) != 0 {
		t.Fatalf("verify after repair: %v %+v", err, res.Problems)
	}
	// A resized disk or an unknown one cannot take a list.
	_, err = Ingest(ctx, r, Options{VM: "vm"}, []DiskSpec{{Name: "d0", Disk: &memDisk{data: v2[:cs]}, Changed: changed[:0]}})
	if err == nil || !strings.Contains(err.Error(), "resize") {
		t.Fatalf("resized disk: %v", err)
	}
	_, err = Ingest(ctx, r, Options{VM: "other"}, []DiskSpec{{Name: "d0", Disk: d3, Changed: changed}})
	if !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("no previous point: %v", err)
	}
}
