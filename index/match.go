package index

import (
	"bytes"
	"fmt"
	"path"
	"strings"
)

// Pattern is a compiled glob over guest paths.
//
// Segments are separated by "/" and matched as by path.Match ("*", "?",
// "[...]", "\" escapes, none crossing a "/"); a segment "**" matches any
// number of directories, none included. A pattern starting with "/" is
// matched against the path inside each volume ("/Users/*/report*.docx");
// one without any "/" against the file name in any directory ("*.docx",
// like find -name); any other against the whole guest path as shown in the
// mount, "disk0/p2/Users/ann/report.docx".
type Pattern struct {
	segs []string
	lit  []bool // segment has no wildcard
	// one star and otherwise literal ("report*.docx"): prefix and suffix
	star     []bool
	pre, suf []string
	// lastStar is the index of the last "**", -1 when none.
	lastStar int
	// tail: the last segment is not "**", so it must match the name's
	// last segment, a cheap test to try first. base: the pattern is
	// "/**/<segment>", which the tail test decides alone for names
	// starting with "/".
	tail, base bool
	// inVolume: matched against the path inside the volume, else against
	// Volume.Prefix() + path.
	inVolume bool
}

// Compile parses a pattern.
func Compile(pat string) (*Pattern, error) {
	if pat == "" {
		return nil, fmt.Errorf("empty pattern")
	}
	p := &Pattern{}
	switch {
	case !strings.Contains(pat, "/"):
		p.inVolume = true
		pat = "/**/" + pat
	case pat[0] == '/':
		p.inVolume = true
	}
	if len(pat) > 1 {
		pat = strings.TrimSuffix(pat, "/")
	}
	p.segs = strings.Split(pat, "/")
	p.lastStar = -1
	for i, s := range p.segs {
		if s == "**" {
			p.lastStar = i
		}
		pre, suf, one := strings.Cut(s, "*")
		one = one && !strings.ContainsAny(pre, `*?[\`) && !strings.ContainsAny(suf, `*?[\`)
		p.star = append(p.star, one)
		p.pre, p.suf = append(p.pre, pre), append(p.suf, suf)
		if s != "**" {
			if _, err := path.Match(s, ""); err != nil {
				return nil, fmt.Errorf("pattern %q: segment %q: %w", pat, s, err)
			}
		}
		p.lit = append(p.lit, !strings.ContainsAny(s, `*?[\`))
	}
	p.setTail()
	return p, nil
}

// InVolume says whether the pattern applies to paths inside volumes (else
// to Volume.Prefix() followed by the path).
func (p *Pattern) InVolume() bool { return p.inVolume }

// Match reports whether name matches. name is a path inside a volume ("/"
// first) or a whole guest path, as InVolume says. Match does not allocate
// for names whose wildcard segments are short.
func (p *Pattern) Match(name []byte) bool {
	if p.tail {
		// The last segment of the pattern takes the last of the name.
		last := len(p.segs) - 1
		if !p.segMatch(last, name[bytes.LastIndexByte(name, '/')+1:]) {
			return false
		}
		if p.base {
			// "" takes the empty first segment, "**" all but the last.
			return len(name) > 0 && name[0] == '/'
		}
	}
	// Segment pi of the pattern against the segment of name starting at
	// byte ni; ni > len(name) when no segment is left. On a mismatch the
	// last "**" takes one more segment and matching resumes after it: "**"
	// is the only element spanning segments, so a later "**" can absorb
	// whatever an earlier one would have, and one backtrack point suffices.
	pi, ni := 0, 0
	starP, starN := -1, 0
	for pi < len(p.segs) || ni <= len(name) {
		if pi < len(p.segs) && p.segs[pi] == "**" {
			starP, starN = pi, ni
			pi++
			if pi-1 == p.lastStar && ni <= len(name) {
				// No "**" follows: the rest of the pattern must match the
				// last len(segs)-pi segments of name, so skip to them.
				n := len(p.segs) - pi
				at := len(name) + 1
				for k := len(name) - 1; k >= ni-1 && n > 0; k-- {
					if k == ni-1 || name[k] == '/' {
						n--
						at = k + 1
					}
				}
				if n > 0 {
					return false // name has too few segments left
				}
				starN, ni = at, at
				starP = -1 // nothing to backtrack to: the split is forced
			}
			continue
		}
		if pi < len(p.segs) && ni <= len(name) {
			end := segEnd(name, ni)
			if p.segMatch(pi, name[ni:end]) {
				pi, ni = pi+1, end+1
				continue
			}
		}
		if starP < 0 || starN > len(name) {
			return false
		}
		starN = segEnd(name, starN) + 1
		pi, ni = starP+1, starN
	}
	return true
}

func segEnd(name []byte, from int) int {
	for i := from; i < len(name); i++ {
		if name[i] == '/' {
			return i
		}
	}
	return len(name)
}

func (p *Pattern) segMatch(i int, seg []byte) bool {
	if p.lit[i] {
		return string(seg) == p.segs[i]
	}
	if p.star[i] {
		return len(seg) >= len(p.pre[i])+len(p.suf[i]) && string(seg[:len(p.pre[i])]) == p.pre[i] && string(seg[len(seg)-len(p.suf[i]):]) == p.suf[i]
	}
	ok, _ := path.Match(p.segs[i], string(seg))
	return ok
}

// forVolume returns the pattern matching the paths inside the volume of
// prefix ("disk0/p2", "disk0/lvm/vg/root") as p matches its guest paths:
// p itself when it applies to paths inside volumes; else, when p has no
// "**" among the prefix's segments, the rest of p after them, which spares
// joining prefix and path for each entry. skip says no path inside the
// volume can match. q is nil (and skip false) when p must see whole guest
// paths.
func (p *Pattern) forVolume(prefix string) (q *Pattern, skip bool) {
	if p.inVolume {
		return p, false
	}
	ps := strings.Split(prefix, "/")
	for k, s := range ps {
		if k == len(p.segs) {
			// p ends inside the prefix: it matches at most the volume's
			// root, which is not listed.
			return nil, true
		}
		if p.segs[k] == "**" {
			return nil, false
		}
		if !p.segMatch(k, []byte(s)) {
			return nil, true
		}
	}
	// Inside the volume, "/a/b" has the segments "", "a", "b".
	k := len(ps)
	q = &Pattern{inVolume: true, lastStar: -1}
	q.segs = append([]string{""}, p.segs[k:]...)
	q.lit = append([]bool{true}, p.lit[k:]...)
	q.star = append([]bool{false}, p.star[k:]...)
	q.pre = append([]string{""}, p.pre[k:]...)
	q.suf = append([]string{""}, p.suf[k:]...)
	if p.lastStar >= k {
		q.lastStar = p.lastStar - k + 1
	}
	q.setTail()
	return q, false
}

func (p *Pattern) setTail() {
	n := len(p.segs)
	p.tail = p.segs[n-1] != "**"
	p.base = p.tail && n == 3 && p.segs[0] == "" && p.segs[1] == "**"
}

// literalPrefix returns a prefix of every name p matches: its leading
// segments without wildcards, joined; "" when none is known.
func (p *Pattern) literalPrefix() string {
	j := 0
	for j < len(p.segs) && p.lit[j] {
		j++
	}
	if j < 2 {
		return "" // none, or only the empty segment before the first "/"
	}
	return strings.Join(p.segs[:j], "/")
}

// MatchIn reports whether p matches path ("/" first) of volume v.
func (p *Pattern) MatchIn(v *Volume, path string) bool {
	if p.inVolume {
		return p.Match([]byte(path))
	}
	if path == "/" {
		return p.Match([]byte(v.Prefix()))
	}
	return p.Match([]byte(v.Prefix() + path))
}
