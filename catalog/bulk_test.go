package catalog

import (
	"context"
	"testing"
	"time"
)

// TestCommitCopiesRebuild: bulk-committed copies are whole points of the
// store (sealed like Commit's manifests when encrypted): a catalog rebuilt
// from the store alone lists them and verify finds nothing wrong.
func TestCommitCopiesRebuild(t *testing.T) {
	for _, enc := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "encrypted"}[enc], func(t *testing.T) {
			ctx := context.Background()
			r := TestRepo(t)
			if enc {
				r = TestEncryptedRepo(t, testPassword)
			}
			t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
			TestWritePoint(t, r, "vm0", t0, map[string][]byte{"disk0": []byte("shared disk")})
			var ids []PointID
			for v := range 3 {
				for p := range 4 {
					if v > 0 || p > 0 {
						ids = append(ids, NewPointID(string(rune('a'+v))+"vm", t0.Add(time.Duration(p)*time.Hour)))
					}
				}
			}
			if err := r.CommitCopies(ctx, NewPointID("vm0", t0), ids); err != nil {
				t.Fatal(err)
			}
			dir := r.Dir()
			r.Close()
			res, err := Rebuild(ctx, dir, Options{Password: pw(testPassword)})
			if err != nil || len(res.Warnings) != 0 {
				t.Fatalf("rebuild: %+v %v", res, err)
			}
			r2, err := Open(ctx, dir, Options{Password: pw(testPassword)})
			if err != nil {
				t.Fatal(err)
			}
			defer r2.Close()
			pts, err := r2.Points("")
			if err != nil || len(pts) != 1+len(ids) {
				t.Fatalf("%d points after rebuild, want %d: %v", len(pts), 1+len(ids), err)
			}
			m, err := r2.PointByID(ids[len(ids)-1])
			if err != nil || m.Disks[0].Map != pts[0].Disks[0].Map {
				t.Fatalf("copy %v: %+v %v", ids[len(ids)-1], m, err)
			}
			if v, err := r2.Verify(ctx, VerifyOptions{}); err != nil || len(v.Problems) != 0 {
				t.Fatalf("verify: %+v %v", v, err)
			}
		})
	}
}
