package ingest

import (
	"context"
	"testing"

	"github.com/vmarchive/vmarchive/catalog"
)

// extentsOf lists the extents of the point's disk d0.
func extentsOf(t *testing.T, r *catalog.Repo, m *catalog.Manifest) []catalog.Extent {
	t.Helper()
	ctx := context.Background()
	dm, err := r.OpenDiskMap(ctx, m, &m.Disks[0])
	if err != nil {
		t.Fatal(err)
	}
	var out []catalog.Extent
	if err := dm.Extents(ctx, 0, m.Disks[0].Size, func(x catalog.Extent) error { out = append(out, x); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}
