package format

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestPointIDParse(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"vm1/2026-11-21T22:38:30Z", "vm1/2026-11-21T22:38:30Z"},
		{"a.b-c_d/2026-11-21T23:38:30+01:00", "a.b-c_d/2026-11-21T22:38:30Z"},
		{"vm/2026-11-21T22:38:30.999Z", "vm/2026-11-21T22:38:30Z"},
		{"old/1960-01-01T00:00:00Z", "old/1960-01-01T00:00:00Z"}, // stored by older versions
	} {
		p, err := ParsePointID(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if p.String() != tc.want {
			t.Errorf("%q: String() = %q, want %q", tc.in, p, tc.want)
		}
		q, err := ParsePointID(p.String())
		if err != nil || q != p {
			t.Errorf("%q: round trip gave %v, %v", tc.in, q, err)
		}
	}
	for _, tc := range []struct{ in, why string }{
		{"", "want VM/TIME"},
		{"vm1", "want VM/TIME"},
		{"/2026-11-21T22:38:30Z", "VM name"},
		{"../2026-11-21T22:38:30Z", "VM name"},
		{"a b/2026-11-21T22:38:30Z", "VM name"},
		{"vm/latest", "RFC 3339"},
		{"vm/2026-11-21", "RFC 3339"},
		{"vm/2026-11-21T22:38:30Z/x", "RFC 3339"},
		{"vm/9999-12-31T23:59:59-01:00", "years 0000 to 9999"},
		{"vm/0000-01-01T00:00:00+01:00", "years 0000 to 9999"},
	} {
		_, err := ParsePointID(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.why) || !strings.Contains(err.Error(), fmt.Sprintf("point %q", tc.in)) {
			t.Errorf("ParsePointID(%q) = %v, want an error naming it and saying %q", tc.in, err, tc.why)
		}
	}
}

func TestPointIDHelpers(t *testing.T) {
	at := time.Date(2026, 11, 21, 23, 38, 30, 5e8, time.FixedZone("x", 3600))
	p := NewPointID("vm1", at)
	if p != NewPointID("vm1", at.Add(-4e8).UTC()) {
		t.Error("IDs of the same point differ (not usable as map keys)")
	}
	m := &Manifest{VM: "vm1", Time: at.UTC().Truncate(time.Second)}
	if m.ID() != p || p.Name() != "2026-11-21T22:38:30Z" {
		t.Errorf("Manifest.ID() = %v, want %v", m.ID(), p)
	}
	if m.ObjectName() != "points/vm1/2026-11-21T22:38:30Z" || p.ObjectName() != m.ObjectName() {
		t.Errorf("object name %q", p.ObjectName())
	}
	if !bytes.Equal(p.Key(), PointKey("vm1", at)) {
		t.Error("Key differs from PointKey")
	}
	if q, err := ParsePointKeyID(p.Key()); err != nil || q != p {
		t.Errorf("ParsePointKeyID: %v %v", q, err)
	}
	d := m.DiskRef("scsi0")
	if d.String() != "vm1/2026-11-21T22:38:30Z disk scsi0" || d != (DiskRef{p, "scsi0"}) {
		t.Errorf("DiskRef %q", d)
	}
	later := NewPointID("vm1", at.Add(time.Hour))
	if !p.Less(later) || later.Less(p) || !NewPointID("a", at.Add(time.Hour)).Less(p) {
		t.Error("Less orders by VM, then time")
	}
	if !d.Less(DiskRef{p, "scsi1"}) || !d.Less(DiskRef{later, "a"}) {
		t.Error("DiskRef.Less orders by point, then disk")
	}
	if !(PointID{}).IsZero() || p.IsZero() {
		t.Error("IsZero")
	}
}

func FuzzParsePointID(f *testing.F) {
	f.Add("vm1/2026-11-21T22:38:30Z")
	f.Add("a.b/2026-11-21T23:38:30.5+01:00")
	f.Add("vm/9999-12-31T23:59:59-01:00")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePointID(s)
		if err != nil {
			return
		}
		q, err := ParsePointID(p.String())
		if err != nil || q != p {
			t.Fatalf("%q: String %q parses to %v, %v", s, p, q, err)
		}
		if k, err := ParsePointKeyID(p.Key()); err != nil || k != p {
			t.Fatalf("%q: key round trip %v, %v", s, k, err)
		}
	})
}
