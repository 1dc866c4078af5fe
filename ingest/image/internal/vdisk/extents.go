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

// Mapped is a virtual range [Off, Off+Len) stored at host offset Host.
type Mapped struct{ Off, Len, Host int64 }

// MappedAppender collects mapped ranges in virtual order, merging ranges
// contiguous in both the virtual disk and the host file.
type MappedAppender struct{ List []Mapped }

// Add appends a mapped range.
func (a *MappedAppender) Add(off, n, host int64) {
	if n <= 0 {
		return
	}
	if k := len(a.List); k > 0 {
		last := &a.List[k-1]
		if last.Off+last.Len == off && last.Host+last.Len == host {
			last.Len += n
			return
		}
	}
	a.List = append(a.List, Mapped{off, n, host})
}

// DropHoles returns the virtual extents of runs whose host bytes hold data
// in src, which matters for images with preallocated but never written
// clusters. Without SEEK_DATA support every run counts as data.
func DropHoles(src Source, runs []Mapped) ([]Extent, error) {
	dr, ok := src.(DataRanger)
	if !ok || len(runs) == 0 {
		out := make([]Extent, 0, len(runs))
		for _, r := range runs {
			out = append(out, Extent{r.Off, r.Len})
		}
		return out, nil
	}
	host, err := dr.DataExtents(0, src.Size())
	if err != nil {
		return nil, err
	}
	var out []Extent
	for _, r := range runs {
		i := sort.Search(len(host), func(i int) bool { return host[i].End() > r.Host })
		for ; i < len(host) && host[i].Off < r.Host+r.Len; i++ {
			lo := max(host[i].Off, r.Host)
			hi := min(host[i].End(), r.Host+r.Len)
			out = append(out, Extent{r.Off + lo - r.Host, hi - lo})
		}
	}
	return out, nil
}

// FirstDuplicate returns the index pair of two equal non-zero values in
// table, or ok=false. Metadata tables of one image never share a child
// table; a duplicate would multiply the work of walking them.
func FirstDuplicate[T uint32 | uint64](table []T) (i, j int, ok bool) {
	idx := make([]int, 0, len(table))
	for k, v := range table {
		if v != 0 {
			idx = append(idx, k)
		}
	}
	sort.Slice(idx, func(a, b int) bool { return table[idx[a]] < table[idx[b]] })
	for k := 1; k < len(idx); k++ {
		if table[idx[k]] == table[idx[k-1]] {
			return min(idx[k], idx[k-1]), max(idx[k], idx[k-1]), true
		}
	}
	return 0, 0, false
}
