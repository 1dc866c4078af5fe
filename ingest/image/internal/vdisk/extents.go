package vdisk

import "sort"

// Coalesce sorts extents and merges overlapping or touching ones, dropping
// empty ones. It reuses the slice.
func Coalesce(ext []Extent) []Extent {
	sort.Slice(ext, func(i, j int) bool { return ext[i].Off < ext[j].Off })
	out := ext[:0]
	for _, e := range ext {
		if e.Len <= 0 {
			continue
		}
		if n := len(out); n > 0 && e.Off <= out[n-1].End() {
			if e.End() > out[n-1].End() {
				out[n-1].Len = e.End() - out[n-1].Off
			}
			continue
		}
		out = append(out, e)
	}
	return out
}

// Appender collects extents in ascending order, merging touching ones as
// they come, so walking a table costs no sort.
type Appender struct{ List []Extent }

// Add appends [off, off+n), merging with the previous extent if adjacent.
func (a *Appender) Add(off, n int64) {
	if n <= 0 {
		return
	}
	if k := len(a.List); k > 0 && a.List[k-1].End() == off {
		a.List[k-1].Len += n
		return
	}
	a.List = append(a.List, Extent{off, n})
}

// Intersect returns the parts of sorted, non-overlapping a that lie inside
// sorted, non-overlapping b.
func Intersect(a, b []Extent) []Extent {
	var out []Extent
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		lo := max(a[i].Off, b[j].Off)
		hi := min(a[i].End(), b[j].End())
		if lo < hi {
			out = append(out, Extent{lo, hi - lo})
		}
		if a[i].End() < b[j].End() {
			i++
		} else {
			j++
		}
	}
	return out
}

// Clip limits sorted extents to [0, size).
func Clip(ext []Extent, size int64) []Extent {
	return Intersect(ext, []Extent{{0, size}})
}

// Shift adds delta to every extent offset, appending to dst.
func Shift(dst, ext []Extent, delta int64) []Extent {
	for _, e := range ext {
		dst = append(dst, Extent{e.Off + delta, e.Len})
	}
	return dst
}
