package catalog

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// TestStatsAgainstStoreAndGC checks stats against what the store holds and
// what forget + gc really free.
func TestStatsAgainstStoreAndGC(t *testing.T) { allFormats(t, testStatsAgainstStoreAndGC) }

func testStatsAgainstStoreAndGC(t *testing.T, newRepo func(testing.TB) *Repo) {
	ctx := context.Background()
	r := newRepo(t)
	cs := testChunkSize(r)
	base := testDisk(1, 12, cs)
	disks := [][]byte{base, append(bytes.Clone(base[:6*cs]), testDisk(2, 6, cs)...), append(bytes.Clone(base[:3*cs]), testDisk(3, 9, cs)...)}
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	var data, logical int64
	count := func(d []byte) {
		logical += int64(len(d))
		for off := 0; off < len(d); off += cs {
			if c := d[off:min(len(d), off+cs)]; !IsZero(c) {
				data += int64(len(c))
			}
		}
	}
	for i, d := range disks {
		TestWritePoint(t, r, "web01", t0.Add(time.Duration(i)*time.Hour), map[string][]byte{"disk0": d})
		count(d)
	}
	TestWritePoint(t, r, "db01", t0, map[string][]byte{"disk0": disks[2]}) // shares every chunk with web01
	count(disks[2])
	st, err := r.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	store := storeObjects(t, r)
	if st.Stored != sum(store) || st.Objects != int64(len(store)) || st.Logical != logical || st.Data != data {
		t.Fatalf("stats stored %d in %d objects, logical %d, data %d; store holds %d in %d, logical %d, data %d", st.Stored, st.Objects, st.Logical, st.Data, sum(store), len(store), logical, data)
	}
	if st.Unique == 0 || st.DedupRatio <= 1 || st.CompressionRatio <= 1 {
		t.Fatalf("ratios: %+v", st)
	}
	if len(st.VMs) != 2 || st.VMs[0].VM != "db01" || st.VMs[0].Frees != 0 {
		t.Fatalf("db01 shares everything, frees nothing: %+v", st.VMs)
	}
	// What stats says forgetting web01's middle point frees is what gc frees.
	mid := st.PointList[2]
	if mid.VM != "web01" || mid.Point != FormatPointTime(t0.Add(time.Hour)) {
		t.Fatalf("point order: %+v", st.PointList)
	}
	before := sum(storeObjects(t, r))
	if err := r.Forget(ctx, "web01", []time.Time{t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.GC(ctx, GCOptions{}); err != nil {
		t.Fatal(err)
	}
	if freed := before - sum(storeObjects(t, r)); freed != mid.Frees || freed == 0 {
		t.Fatalf("stats said forgetting %s frees %d, gc freed %d", mid.Point, mid.Frees, freed)
	}
}
