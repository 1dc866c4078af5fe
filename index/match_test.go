package index

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// globRegexp translates a pattern, as Compile reads it, to a regular
// expression independently of Match's backtracking, as the oracle: a
// segment "**" is any number of whole segments; other segments are
// path.Match patterns, never matching "/". Patterns and names must be
// valid UTF-8 (the regexp reads runes where Match compares literal bytes).
func globRegexp(pat string) *regexp.Regexp {
	var segs []string
	for _, s := range strings.Split(pat, "/") {
		if s == "**" && len(segs) > 0 && segs[len(segs)-1] == "**" {
			continue // "**/**" is "**"
		}
		segs = append(segs, s)
	}
	if len(segs) == 1 && segs[0] == "**" {
		return regexp.MustCompile(`(?s)^.*$`)
	}
	var b strings.Builder
	b.WriteString("^")
	for i, s := range segs {
		switch {
		case s == "**" && i == 0:
			b.WriteString(`([^/]*/)*`) // leading segments, each with its "/"
			continue
		case s == "**":
			b.WriteString(`(/[^/]*)*`)
			continue
		case i > 0 && !(i == 1 && segs[0] == "**"):
			b.WriteString("/")
		}
		b.WriteString(segmentRegexp(s))
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// segmentRegexp translates one path.Match pattern (valid: Compile took it).
func segmentRegexp(s string) string {
	var b strings.Builder
	rs := []rune(s)
	lit := func(r rune) string { return fmt.Sprintf(`\x{%x}`, r) }
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case '*':
			b.WriteString(`[^/]*`)
		case '?':
			b.WriteString(`[^/]`)
		case '\\':
			i++
			b.WriteString(lit(rs[i]))
		case '[':
			// As path.Match reads a class: optional "^", then items
			// lo or lo-hi (each maybe escaped) up to "]".
			i++
			neg := i < len(rs) && rs[i] == '^'
			if neg {
				i++
			}
			var ranges [][2]rune
			esc := func() rune {
				if rs[i] == '\\' {
					i++
				}
				r := rs[i]
				i++
				return r
			}
			for n := 0; n == 0 || rs[i] != ']'; n++ {
				lo := esc()
				hi := lo
				if rs[i] == '-' {
					i++
					hi = esc()
				}
				// "/" never matches inside a segment; an empty range
				// (hi < lo) matches nothing.
				if lo < '/' {
					ranges = append(ranges, [2]rune{lo, min(hi, '/'-1)})
				}
				if hi > '/' {
					ranges = append(ranges, [2]rune{max(lo, '/'+1), hi})
				}
			}
			var cl strings.Builder
			for _, r := range ranges {
				if r[0] <= r[1] {
					cl.WriteString(lit(r[0]) + "-" + lit(r[1]))
				}
			}
			switch {
			case neg:
				b.WriteString("[^/" + cl.String() + "]")
			case cl.Len() == 0:
				b.WriteString(`[^\x{0}-\x{10ffff}]`) // matches nothing
			default:
				b.WriteString("[" + cl.String() + "]")
			}
		default:
			b.WriteString(lit(rs[i]))
		}
	}
	return b.String()
}

func TestPatternMatch(t *testing.T) {
	names := []string{"/", "/a", "/a/b", "/a/b/c", "/a/x/b/c", "/b/c", "/a/b/c/d", "/Users/ann/Documents/report-1.docx",
		"/Users/bob/Documents/report.docx", "/Users/ann/Documents/old/report.docx", "/report.docx", "/a/a/a/b"}
	pats := []string{"/", "/a", "/*", "/a/*", "/**", "/**/c", "/a/**/c", "/a/**", "/**/b/**/c", "/a/**/**/b/c",
		"/**/a/b", "/Users/*/Documents/report*.docx", "/Users/**/report*.docx", "/**/report.docx", "/?/b", "/a/**/a/b",
		"/**/*", "/**/?", "/*/**/c", "/**/report*.docx", "/**/*.docx", "/**/[bc]", "/a/b/c/**"}
	for _, pat := range pats {
		p, err := Compile(pat)
		if err != nil {
			t.Fatal(err)
		}
		// "**" next to "/" is (/seg)*: the oracle expects "/**" to match
		// "/" too, by treating the root as the empty path.
		re := globRegexp(pat)
		for _, n := range names {
			want := re.MatchString(n) || n == "/" && re.MatchString("")
			if got := p.Match([]byte(n)); got != want {
				t.Errorf("pattern %q name %q: got %v, oracle %v (%s)", pat, n, got, want, re)
			}
		}
	}
}

func TestPatternForms(t *testing.T) {
	for _, c := range []struct {
		pat, name string
		inVolume  bool
		want      bool
	}{
		{"report*.docx", "/Users/ann/report-2.docx", true, true},
		{"report*.docx", "/report.docx", true, true},
		{"report*.docx", "/report.docx/x", true, false},
		{"disk0/p2/etc/hosts", "disk0/p2/etc/hosts", false, true},
		{"disk0/*/etc/hosts", "disk0/p1/etc/hosts", false, true},
		{"*/*/etc/hosts", "disk0/lvm/vg/root/etc/hosts", false, false},
		{"**/etc/hosts", "disk0/lvm/vg/root/etc/hosts", false, true},
		{"disk0/p2/", "disk0/p2", false, true},
		{"*", "/", true, true},
		{"*.c", "/a.c/b", true, false},
		{"*.c", "/a/b.c", true, true},
		{"**/hosts", "hosts", false, true},
		{"disk0/p2/*", "disk0/p2/hosts", false, true},
		{"disk0/p2/*", "disk0/p2x/hosts", false, false},
		{`/a\*b`, "/a*b", true, true},
		{`/a\*b`, "/axb", true, false},
		{"/[a-c]x", "/bx", true, true},
	} {
		p, err := Compile(c.pat)
		if err != nil {
			t.Fatal(err)
		}
		if p.InVolume() != c.inVolume || p.Match([]byte(c.name)) != c.want {
			t.Errorf("%q vs %q: inVolume %v match %v, want %v %v", c.pat, c.name, p.InVolume(), p.Match([]byte(c.name)), c.inVolume, c.want)
		}
	}
	for _, bad := range []string{"", "/a[", "/[]"} {
		if _, err := Compile(bad); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
}

// A pattern over whole guest paths, cut to a volume by forVolume (with its
// literal prefix as a prefilter), matches the paths inside the volume
// exactly as it matches the volume's prefix joined with them.
func TestPatternForVolume(t *testing.T) {
	prefixes := []string{"disk0/p1", "disk0/p2", "disk1/fs", "disk0/lvm/vg/root", "disk0/lvm/vg/home"}
	paths := []string{"/", "/etc", "/etc/hosts", "/etc/hosts.d/x", "/a/b/c", "/Users/ann/report-1.docx", "/root/etc/hosts",
		"/vg/root/etc/hosts", "/home/ann/report.docx", "/p2/etc/hosts", "/etc/host", "/etcx/hosts"}
	pats := []string{"disk0/p1/etc/hosts", "disk0/*/etc/hosts", "disk0/p?/etc/**", "*/*/etc/hosts", "**/etc/hosts",
		"disk0/**/hosts", "disk0/p2", "disk0/p2/", "disk0", "disk0/lvm/vg/root/etc/*", "disk0/lvm/*/*/**/report*.docx",
		"disk*/[lp]*/**", "disk0/lvm/vg", "disk0/lvm/vg/root/etc/hosts/**", "disk1/fs/**/*.docx", `disk0/p1/etc/host\s`,
		"/etc/hosts", "hosts", "/etc/**"}
	matches := 0
	for _, pat := range pats {
		p, err := Compile(pat)
		if err != nil {
			t.Fatal(err)
		}
		for _, pre := range prefixes {
			q, skip := p.forVolume(pre)
			var lit string
			if q != nil {
				if !q.InVolume() {
					t.Fatalf("pattern %q volume %s: forVolume gave a whole-path pattern", pat, pre)
				}
				lit = q.literalPrefix()
			}
			for _, path := range paths {
				full := pre + path
				if path == "/" {
					full = pre
				}
				want := p.Match([]byte(full))
				if p.InVolume() {
					want = p.Match([]byte(path))
				}
				got := false
				switch {
				case skip:
				case q == nil:
					got = p.Match([]byte(full))
				default:
					got = strings.HasPrefix(path, lit) && q.Match([]byte(path))
					if q.Match([]byte(path)) && !strings.HasPrefix(path, lit) {
						t.Errorf("pattern %q volume %s: %s matches without the literal prefix %q", pat, pre, path, lit)
					}
				}
				if path == "/" {
					continue // roots are never listed; forVolume may skip a volume matching only its root
				}
				if want {
					matches++
				}
				if got != want {
					t.Errorf("pattern %q volume %s path %s: per volume %v (skip %v, rest %v), whole path %v", pat, pre, path, got, skip, q != nil, want)
				}
			}
		}
	}
	if matches < 40 {
		t.Errorf("only %d matching cases: the table tests little", matches)
	}
}

// compiledForm is the pattern Compile matches names against: pat made to
// apply to any directory when it has no "/", without a trailing "/".
func compiledForm(pat string) string {
	if !strings.Contains(pat, "/") {
		pat = "/**/" + pat
	}
	if len(pat) > 1 {
		pat = strings.TrimSuffix(pat, "/")
	}
	return pat
}

// FuzzMatch requires Match to agree with the regexp oracle on any pattern
// Compile takes and any name, and a guest-path pattern cut to a volume
// (forVolume) to agree with the whole pattern on that volume's paths.
// Invalid UTF-8 is only run, not judged: the oracle reads runes where
// Match compares literal bytes (U+FFFD in a pattern against a stray byte
// differs there, legitimately).
func FuzzMatch(f *testing.F) {
	for _, p := range []string{"/", "/a", "/*", "/**", "/a/**/c", "/**/b/**/c", "/Users/*/Documents/report*.docx",
		"*.docx", "report?.doc", "disk0/p1/**/*.c", "disk0/*/etc/hosts", "**", "**/x", "a/**/**/b", `\*x`,
		"[^a]b", "[a-c]*", `[\]]`, "[z-a]", "[.-0]", "/a//b", "/a/"} {
		for _, n := range []string{"/", "/a", "/a/b/c", "/Users/ann/Documents/report-1.docx", "disk0/p1/src/x.c",
			"x", "a/b", "/*x", "/]", "a//b", "/a/", "/a./0"} {
			f.Add(p, n)
		}
	}
	f.Fuzz(func(t *testing.T, pat, name string) {
		if len(pat) > 64 || len(name) > 256 {
			return // longer says nothing more and slows the oracle
		}
		p, err := Compile(pat)
		if err != nil {
			return
		}
		got := p.Match([]byte(name))
		if !utf8.ValidString(pat) || !utf8.ValidString(name) {
			return
		}
		re := globRegexp(compiledForm(pat))
		if want := re.MatchString(name); got != want {
			t.Fatalf("pattern %q name %q: Match %v, oracle %v (%s)", pat, name, got, want, re)
		}
		if p.InVolume() || !strings.HasPrefix(name, "/") {
			return
		}
		const prefix = "disk0/p1"
		whole := p.Match([]byte(prefix + name))
		q, skip := p.forVolume(prefix)
		if skip && whole || q != nil && q.Match([]byte(name)) != whole {
			t.Fatalf("pattern %q on %s%s: %v; cut to the volume: skip %v, %v", pat, prefix, name, whole, skip, q != nil && q.Match([]byte(name)))
		}
	})
}
