package timeline

import (
	"time"

	"github.com/vmarchive/vmarchive/index"
)

// Kind is what an event says.
type Kind uint8

// The event kinds (doc.go).
const (
	File Kind = iota + 1
	Present
	Changed
	Deleted
	Renamed
)

func (k Kind) String() string {
	switch k {
	case File:
		return "file"
	case Present:
		return "present"
	case Changed:
		return "changed"
	case Deleted:
		return "deleted"
	case Renamed:
		return "renamed"
	}
	return "unknown"
}

// Event is one line of the timeline.
type Event struct {
	Kind Kind
	// Point is the point the event was seen at; Before is the point
	// before it (for Changed, Deleted and Renamed), else "".
	Point       string
	PointTime   time.Time
	Before      string
	Disk        string // as in the catalog
	Volume      string // "p1", "fs", "lvm/<vg>/<lv>"
	GuestPath   string // as in the mount: "disk0/p1/etc/hosts"
	OldPath     string // Renamed: the guest path in Before
	Note        string // Changed: why the content may have changed, when it could not be compared
	index.Entry        // the file at Point (at Before for Deleted)
}
