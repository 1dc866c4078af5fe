package ingest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
)

// TestDiskNamesCheckedBeforeReading: a disk name that collides in the
// mounted tree, or two names differing only in case, fail the ingest
// before any disk is read, and leave no point.
func TestDiskNamesCheckedBeforeReading(t *testing.T) {
	r := catalog.TestRepo(t)
	for _, c := range []struct {
		names []string
		want  string
	}{
		{[]string{"disk0", "config"}, `disk name "config"`},
		{[]string{"disk0", "disk0.IMG"}, `disk name "disk0.IMG"`},
		{[]string{"Disk0", "disk0"}, `disk "disk0" given twice`},
	} {
		var specs []DiskSpec
		var disks []*memDisk
		for _, n := range c.names {
			d := &memDisk{data: make([]byte, 1<<20)}
			disks = append(disks, d)
			specs = append(specs, DiskSpec{Name: n, Disk: d})
		}
		_, err := Ingest(context.Background(), r, Options{VM: "web01", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, specs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.names, err, c.want)
		}
		for i, d := range disks {
			if n := d.readBytes(); n != 0 {
				t.Errorf("%q: disk %q read %d bytes", c.names, c.names[i], n)
			}
		}
	}
	if vms, err := r.VMs(); err != nil || len(vms) != 0 {
		t.Fatalf("points were made: %v %v", vms, err)
	}
}
