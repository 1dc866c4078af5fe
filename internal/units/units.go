// Package units reads byte counts written for people: "200MiB", "64M",
// "1048576".
package units

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// ErrSyntax is returned for what is not a byte count; callers say what
// they wanted the count for.
var ErrSyntax = errors.New("want a number with an optional unit such as 64MiB")

var suffixes = []struct {
	suf string
	m   int64
}{
	{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40},
	{"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"TB", 1 << 40},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1},
}

// ParseBytes reads a non-negative byte count with an optional binary
// unit, in any case (K, KB and KiB all mean 1024). It refuses counts
// that overflow an int64.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	mult := int64(1)
	for _, u := range suffixes {
		if strings.HasSuffix(t, u.suf) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suf)), u.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, ErrSyntax
	}
	return n * mult, nil
}
