package format

import (
	"fmt"
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
