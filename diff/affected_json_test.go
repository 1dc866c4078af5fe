package diff

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// TestAffectedJSON: check --json keeps naming the point by "vm" and
// "point" strings, as before Affected carried a DiskRef.
func TestAffectedJSON(t *testing.T) {
	p := catalog.NewPointID("vm1", time.Date(2026, 11, 21, 22, 38, 30, 0, time.UTC))
	b, err := json.Marshal([]Affected{{Ref: catalog.DiskRef{PointID: p, Disk: "disk0"}, Files: []string{"p1/a"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"vm":"vm1","point":"2026-11-21T22:38:30Z","disk":"disk0","files":["p1/a"]}]`
	if string(b) != want {
		t.Errorf("got %s\nwant %s", b, want)
	}
}
