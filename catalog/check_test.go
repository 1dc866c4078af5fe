package catalog

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckFindsDamageAndNamesPoints(t *testing.T) {
	ctx := context.Background()
	r := TestRepoWith(t, InitOptions{ChunkSize: MinChunkSize}) // format 1: chunk i at i*cs
	cs := r.Config().ChunkSize
	base := testDisk(1, 8, cs)
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	a := TestWritePoint(t, r, "web01", t0, map[string][]byte{"disk0": base})
	bdisk := append(bytes.Clone(base[:4*cs]), testDisk(2, 4, cs)...)
	b := TestWritePoint(t, r, "web01", t0.Add(time.Hour), map[string][]byte{"disk0": bdisk})
	c := TestWritePoint(t, r, "db01", t0, map[string][]byte{"disk0": testDisk(3, 2, cs)})

	res, err := r.Check(ctx, CheckOptions{ReadData: true})
	if err != nil || !res.OK() || res.Points != 3 || res.Data.Objects == 0 {
		t.Fatalf("clean repository: %+v %v", res, err)
	}
	// Two halves of the data cover it all.
	var parts int64
	for n := 1; n <= 2; n++ {
		h, err := r.Check(ctx, CheckOptions{ReadData: true, SubsetPart: n, SubsetOf: 2})
		if err != nil {
			t.Fatal(err)
		}
		parts += h.Data.Objects
	}
	if parts != res.Data.Objects {
		t.Fatalf("subsets 1/2 + 2/2 read %d objects, the whole %d", parts, res.Data.Objects)
	}
	if _, err := r.Check(ctx, CheckOptions{ReadData: true, SubsetPart: 3, SubsetOf: 2}); err == nil {
		t.Fatal("subset 3/2 accepted")
	}

	// Damage: a chunk only b uses goes missing, c's manifest goes (an
	// interrupted forget), a's first chunk is overwritten with other bytes
	// of the same size.
	store := filepath.Join(r.Dir(), "store")
	dm, _ := r.OpenDiskMap(ctx, b, &b.Disks[0])
	onlyB, _ := dm.Chunk(ctx, 4)
	if err := os.Remove(filepath.Join(store, onlyB.ObjectName())); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(store, c.ObjectName())); err != nil {
		t.Fatal(err)
	}
	am, _ := r.OpenDiskMap(ctx, a, &a.Disks[0])
	first, _ := am.Chunk(ctx, 0)
	p := filepath.Join(store, first.ObjectName())
	raw, _ := os.ReadFile(p)
	raw[len(raw)-1] ^= 0xff
	os.WriteFile(p, raw, 0o600)

	res, err = r.Check(ctx, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 1 || res.Problems[0].ID != onlyB || !res.Problems[0].Missing || !res.Problems[0].Forgotten {
		t.Fatalf("structure problems: %+v", res.Problems)
	}
	uses := res.Problems[0].Uses
	if len(uses) != 1 || uses[0].Point != b.Name() || uses[0].Offset != int64(4*cs) {
		t.Fatalf("uses of the missing chunk: %+v", uses)
	}
	if len(res.Manifests) != 1 || !strings.Contains(res.Manifests[0], "db01/"+c.Name()) || !strings.Contains(res.Manifests[0], "not in the store") {
		t.Fatalf("manifest problems: %q", res.Manifests)
	}
	if res.Data != nil {
		t.Fatal("data read without ReadData")
	}
	res, err = r.Check(ctx, CheckOptions{ReadData: true})
	if err != nil || res.OK() {
		t.Fatalf("check --read-data: %+v %v", res, err)
	}
	var damaged bool
	for _, pr := range res.Data.Problems {
		if pr.ID == first && !pr.Missing && len(pr.Uses) == 2 && pr.Forgotten { // a and b share it
			damaged = true
		}
	}
	if !damaged {
		t.Fatalf("damaged chunk not reported with both points: %+v", res.Data.Problems)
	}
	if q, err := r.Backend().Get(ctx, QuarantineName(first)); err != nil || !bytes.Equal(q, raw) {
		t.Fatalf("quarantined copy of the damaged chunk: %v", err)
	}

	// A manifest the catalog lacks, and a catalog key whose object is gone.
	m, _ := c.Encode()
	if err := r.Backend().Put(ctx, c.ObjectName(), m); err != nil {
		t.Fatal(err)
	}
	if err := r.Forget(ctx, "db01", []time.Time{c.Time}); err != nil {
		t.Fatal(err)
	}
	r.Backend().Put(ctx, c.ObjectName(), m)
	cm, _ := r.OpenDiskMap(ctx, c, &c.Disks[0])
	onlyC, _ := cm.Chunk(ctx, 0)
	os.Remove(filepath.Join(store, onlyC.ObjectName()))
	res, err = r.Check(ctx, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Manifests) != 1 || !strings.Contains(res.Manifests[0], "not in the catalog") {
		t.Fatalf("manifest problems: %q", res.Manifests)
	}
	// The damaged chunk was moved to quarantine by the read above.
	var stale, forgotten bool
	for _, pr := range res.Problems {
		if pr.ID == onlyC && strings.Contains(pr.Err, "catalog lists this chunk") {
			stale = true
		}
		if pr.ID == first && pr.Missing {
			forgotten = true
		}
	}
	if !stale || !forgotten || len(res.Problems) != 3 {
		t.Fatalf("problems: %+v", res.Problems)
	}
}

// TestCheckNamesMissingMapBlocks: a missing map root or leaf is named with
// the points and disks that use it, like a missing data chunk.
func TestCheckNamesMissingMapBlocks(t *testing.T) {
	ctx := context.Background()
	r := TestRepoWith(t, InitOptions{ChunkSize: MinChunkSize}) // format 1: chunk i at i*cs
	cs := r.Config().ChunkSize
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	disk := testDisk(1, 4, cs)
	a := TestWritePoint(t, r, "web01", t0, map[string][]byte{"disk0": disk})
	b := TestWritePoint(t, r, "web01", t0.Add(time.Hour), map[string][]byte{"disk0": disk})
	if a.Disks[0].Map != b.Disks[0].Map {
		t.Fatal("equal disks do not share their map root")
	}
	if err := os.Remove(filepath.Join(r.Dir(), "store", a.Disks[0].Map.ObjectName())); err != nil {
		t.Fatal(err)
	}
	res, err := r.Check(ctx, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 1 || res.Problems[0].ID != a.Disks[0].Map || !res.Problems[0].Missing {
		t.Fatalf("problems: %+v", res.Problems)
	}
	got := map[string]bool{}
	for _, u := range res.Problems[0].Uses {
		got[u.VM+"/"+u.Point+" "+u.Disk+" "+u.What] = true
	}
	for _, p := range []*Manifest{a, b} {
		if w := "web01/" + p.Name() + " disk0 map root"; !got[w] {
			t.Errorf("uses %v lack %q", got, w)
		}
	}
}
