package index

import (
	"regexp"
	"strings"
	"testing"
)

// globRegexp translates a pattern to a regular expression independently
// of Match's backtracking, as the oracle.
func globRegexp(pat string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	segs := strings.Split(pat, "/")
	for i, s := range segs {
		if s == "**" {
			if i == len(segs)-1 {
				b.WriteString(`(/[^/]*)*`)
			} else {
				b.WriteString(`(/[^/]*)*?`)
			}
			continue
		}
		if i > 0 {
			b.WriteString("/")
		}
		for _, c := range s {
			switch c {
			case '*':
				b.WriteString(`[^/]*`)
			case '?':
				b.WriteString(`[^/]`)
			default:
				b.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func TestPatternMatch(t *testing.T) {
	names := []string{"/", "/a", "/a/b", "/a/b/c", "/a/x/b/c", "/b/c", "/a/b/c/d", "/Users/ann/Documents/report-1.docx",
		"/Users/bob/Documents/report.docx", "/Users/ann/Documents/old/report.docx", "/report.docx", "/a/a/a/b"}
	pats := []string{"/", "/a", "/*", "/a/*", "/**", "/**/c", "/a/**/c", "/a/**", "/**/b/**/c", "/a/**/**/b/c",
		"/**/a/b", "/Users/*/Documents/report*.docx", "/Users/**/report*.docx", "/**/report.docx", "/?/b", "/a/**/a/b"}
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
