package index

import (
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
	return p, nil
}

// InVolume says whether the pattern applies to paths inside volumes (else
// to Volume.Prefix() followed by the path).
func (p *Pattern) InVolume() bool { return p.inVolume }

// Match reports whether name matches. name is a path inside a volume ("/"
// first) or a whole guest path, as InVolume says. Match does not allocate
// for names whose wildcard segments are short.
func (p *Pattern) Match(name []byte) bool {
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
