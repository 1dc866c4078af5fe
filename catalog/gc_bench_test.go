package catalog

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// BenchmarkGC collects a repository of 8 points of 2 disks (64 chunks
// each, half of them shared with the point before) with nothing to delete:
// the cost of listing, finding the roots and marking.
func BenchmarkGC(b *testing.B) {
	ctx := context.Background()
	r := testRepo1(b)
	cs := r.Config().ChunkSize
	disk := testDisk(1, 64, cs)
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	for i := range 8 {
		next := append(bytes.Clone(disk[:32*cs]), testDisk(int64(10+i), 32, cs)...)
		TestWritePoint(b, r, "web01", t0.Add(time.Duration(i)*time.Hour), map[string][]byte{"disk0": disk, "disk1": next})
		disk = next
	}
	b.ResetTimer()
	for range b.N {
		res, err := r.GC(ctx, GCOptions{})
		if err != nil || res.DeletedObjects != 0 {
			b.Fatalf("%+v %v", res, err)
		}
	}
}
