package format

import (
	"fmt"
	"strings"
	"time"
)

// PointID names one recovery point: a VM and the point's capture time,
// UTC at whole seconds. Its zero value names no point. Built by
// NewPointID or ParsePointID it is comparable with == and usable as a
// map key (the time carries no location and no monotonic reading).
type PointID struct {
	VM   string
	Time time.Time
}

// DiskRef names one disk of a point.
type DiskRef struct {
	PointID
	Disk string
}

// NewPointID returns the ID of vm's point captured at t, normalised to
// UTC whole seconds.
func NewPointID(vm string, t time.Time) PointID {
	return PointID{VM: vm, Time: t.UTC().Truncate(time.Second)}
}

// ParsePointID parses "vm/time" as String writes it; the time may be any
// RFC 3339 time. It checks the VM name and that the time has a point name
// (years 0000 to 9999), not CheckPointTime's range: points stored by older
// versions outside that range must stay addressable, to forget them.
func ParsePointID(s string) (PointID, error) {
	vm, name, ok := strings.Cut(s, "/")
	if !ok {
		return PointID{}, fmt.Errorf("point %q: want VM/TIME, e.g. vm1/2026-11-21T22:38:30Z", s)
	}
	if err := ValidName("VM", vm); err != nil {
		return PointID{}, fmt.Errorf("point %q: %w", s, err)
	}
	t, err := ParsePointTime(name)
	if err != nil {
		return PointID{}, fmt.Errorf("point %q: %w", s, err)
	}
	if y := t.Year(); y < 0 || y > 9999 {
		return PointID{}, fmt.Errorf("point %q: time %s is outside years 0000 to 9999", s, t.Format(time.RFC3339))
	}
	return NewPointID(vm, t), nil
}

// String returns "vm/time", the form ParsePointID reads.
func (p PointID) String() string { return p.VM + "/" + p.Name() }

// Name returns the point's name: its time as PointTimeFormat.
func (p PointID) Name() string { return FormatPointTime(p.Time) }

// IsZero reports whether p names no point.
func (p PointID) IsZero() bool { return p.VM == "" && p.Time.IsZero() }

// Key returns the point's catalog key (PointKey).
func (p PointID) Key() []byte { return PointKey(p.VM, p.Time) }

// ObjectName returns the name of the point's manifest in the store.
func (p PointID) ObjectName() string { return "points/" + p.String() }

// Less orders points by VM, then time.
func (p PointID) Less(q PointID) bool { return p.Compare(q) < 0 }

// Compare orders points by VM name, then time: -1, 0 or +1.
func (p PointID) Compare(q PointID) int {
	if c := strings.Compare(p.VM, q.VM); c != 0 {
		return c
	}
	return p.Time.Compare(q.Time)
}

// ParsePointKeyID parses a point key into its PointID.
func ParsePointKeyID(k []byte) (PointID, error) {
	vm, t, err := ParsePointKey(k)
	return PointID{VM: vm, Time: t}, err
}

// String returns "vm/time disk NAME", as messages name a point's disk.
func (d DiskRef) String() string { return d.PointID.String() + " disk " + d.Disk }

// Less orders disk references by point, then disk name.
func (d DiskRef) Less(e DiskRef) bool {
	return d.PointID.Less(e.PointID) || d.PointID == e.PointID && d.Disk < e.Disk
}
