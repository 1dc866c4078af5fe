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
	for _, s := range p.segs {
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
	ok, _ := path.Match(p.segs[i], string(seg))
	return ok
}
