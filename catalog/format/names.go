package format

import (
	"fmt"
	"strings"
	"time"
)

// PointTimeFormat names points: UTC RFC 3339 at one-second resolution.
const PointTimeFormat = "2006-01-02T15:04:05Z"

// FormatPointTime returns the name of the point captured at t.
func FormatPointTime(t time.Time) string { return t.UTC().Format(PointTimeFormat) }

// ParsePointTime parses a point name or any RFC 3339 time.
func ParsePointTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("point time %q: want RFC 3339, e.g. 2026-11-21T22:38:30Z", s)
	}
	return t.UTC().Truncate(time.Second), nil
}

// ValidName checks a VM or disk name: it becomes a directory name in the
// mount and part of store object names.
func ValidName(kind, s string) error {
	if s == "" || len(s) > 200 {
		return fmt.Errorf("%s name %q: must be 1 to 200 characters", kind, s)
	}
	if s[0] == '.' || s[0] == '-' {
		return fmt.Errorf("%s name %q: must not start with '.' or '-'", kind, s)
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return fmt.Errorf("%s name %q: only letters, digits, '-', '_' and '.' are allowed", kind, s)
		}
	}
	return nil
}

// ReservedDiskName says why disk name s would collide in the mounted tree,
// or "" if it would not. A point's directory shows each disk as <disk>.img
// and <disk>/ beside config/, a comparison shows <disk>/ beside
// changes.txt and changes.json, and a VM's directory holds latest; so a
// disk may not have any of these names, nor end in .img. Case is
// ignored: the tree is also copied to and served over case-insensitive
// filesystems. Older repositories may hold such names; the mount shows
// them escaped (package fs).
func ReservedDiskName(s string) string {
	switch l := strings.ToLower(s); {
	case l == "config" || l == "latest" || l == "changes.txt" || l == "changes.json":
		return fmt.Sprintf("%q is reserved in the mounted tree (any case)", l)
	case strings.HasSuffix(l, ".img"):
		return "a name ending in .img would collide with another disk's image in the mounted tree (any case)"
	}
	return ""
}

// MountDiskName is the name disk has in the mounted tree (and in paths
// shown as in it): a reserved name an older repository holds gets a "~"
// appended, a character no disk name has, so it collides with nothing.
func MountDiskName(disk string) string {
	if ReservedDiskName(disk) != "" {
		return disk + "~"
	}
	return disk
}

// ValidDiskName checks the name of a disk of a new point: ValidName and
// no reserved name. Manifests already stored are checked by ValidName only.
func ValidDiskName(s string) error {
	if err := ValidName("disk", s); err != nil {
		return err
	}
	if why := ReservedDiskName(s); why != "" {
		return fmt.Errorf("disk name %q: %s", s, why)
	}
	return nil
}
