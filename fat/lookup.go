package fat

import (
	"strings"
	"unicode"
)

// foldKey maps a name to a key shared by every case variant of it: each
// rune becomes the smallest rune of its simple case-folding orbit, which
// is what strings.EqualFold compares.
func foldKey(s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	for _, r := range s {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		sb.WriteRune(min)
	}
	return sb.String()
}

// lookupIndex finds names in one directory: exact names first, then
// case-folded long and 8.3 names, each mapped to the first entry holding it.
type lookupIndex struct {
	exact  map[string]int
	folded map[string]int
}

func newLookupIndex(ents []dirent) *lookupIndex {
	x := &lookupIndex{exact: make(map[string]int, len(ents)), folded: make(map[string]int, 2*len(ents))}
	for i := range ents {
		if _, ok := x.exact[ents[i].name]; !ok {
			x.exact[ents[i].name] = i
		}
	}
	for i := range ents { // long names win over 8.3 names of other entries
		if k := foldKey(ents[i].name); x.folded[k] == 0 {
			x.folded[k] = i + 1
		}
	}
	for i := range ents {
		if k := foldKey(ents[i].short); x.folded[k] == 0 {
			x.folded[k] = i + 1
		}
	}
	return x
}

// find returns the index of the entry name matches, or -1.
func (x *lookupIndex) find(name string) int {
	if i, ok := x.exact[name]; ok {
		return i
	}
	return x.folded[foldKey(name)] - 1
}
