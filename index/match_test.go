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
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == '[' {
				// A character class, as path.Match reads it ("[^...]" negated).
				end := strings.IndexByte(s[i:], ']')
				b.WriteString(s[i : i+end+1])
				i += end
				continue
			}
			switch c {
			case '*':
				b.WriteString(`[^/]*`)
			case '?':
				b.WriteString(`[^/]`)
			default:
				b.WriteString(regexp.QuoteMeta(s[i : i+1]))
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
