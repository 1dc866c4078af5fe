package partition

import (
	"fmt"
	"strconv"
	"strings"
)

// The LVM2 text metadata format (lvm2 libdm/libdm-config.c) is a tree of
// sections, assignments and lists:
//
//	vgname {
//		id = "xxxxxx-..."
//		extent_size = 8192	# sectors
//		status = ["READ", "WRITE"]
//		physical_volumes { pv0 { ... } }
//	}
//	contents = "Text Format Volume Group"

// maxConfigDepth bounds section nesting; real metadata nests 4 deep.
const maxConfigDepth = 32

// cfgValue is a string, an integer or a list of values.
type cfgValue struct {
	str   string
	num   int64
	isNum bool
	list  []cfgValue
	isArr bool
}

// cfgSection is one "name { ... }" block.
type cfgSection struct {
	name     string
	values   map[string]cfgValue
	sections []*cfgSection // in file order
}

func (s *cfgSection) section(name string) *cfgSection {
	for _, c := range s.sections {
		if c.name == name {
			return c
		}
	}
	return nil
}

// cfgParser is a recursive-descent parser over the metadata text.
type cfgParser struct {
	src string
	pos int
}

// parseConfig parses LVM text metadata into a root section. Text after a NUL
// byte is ignored: LVM stores the metadata NUL-terminated.
func parseConfig(text []byte) (*cfgSection, error) {
	s := string(text)
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	p := &cfgParser{src: s}
	root, err := p.body("", 0)
	if err != nil {
		return nil, err
	}
	if p.skip(); p.pos < len(p.src) {
		return nil, p.errorf("unexpected %q", p.src[p.pos])
	}
	return root, nil
}

func (p *cfgParser) errorf(format string, args ...any) error {
	line := 1 + strings.Count(p.src[:p.pos], "\n")
	return corruptf("LVM metadata line %d (byte %d): %s", line, p.pos, fmt.Sprintf(format, args...))
}

// skip passes white space and # comments.
func (p *cfgParser) skip() {
	for p.pos < len(p.src) {
		switch c := p.src[p.pos]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			p.pos++
		case c == '#':
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.pos++
			}
		default:
			return
		}
	}
}

// body parses assignments and sections up to "}" (depth > 0) or the end.
func (p *cfgParser) body(name string, depth int) (*cfgSection, error) {
	if depth > maxConfigDepth {
		return nil, p.errorf("sections nested deeper than %d", maxConfigDepth)
	}
	sec := &cfgSection{name: name, values: map[string]cfgValue{}}
	for {
		p.skip()
		if p.pos >= len(p.src) {
			if depth > 0 {
				return nil, p.errorf("section %q not closed", name)
			}
			return sec, nil
		}
		if p.src[p.pos] == '}' {
			if depth == 0 {
				return nil, p.errorf("unexpected '}'")
			}
			p.pos++
			return sec, nil
		}
		if err := p.item(sec, depth); err != nil {
			return nil, err
		}
	}
}

// item parses "key = value" or "name { ... }" into sec.
func (p *cfgParser) item(sec *cfgSection, depth int) error {
	key := p.ident()
	if key == "" {
		return p.errorf("expected a name, found %q", p.src[p.pos])
	}
	p.skip()
	if p.pos >= len(p.src) {
		return p.errorf("unexpected end after %q", key)
	}
	switch p.src[p.pos] {
	case '{':
		p.pos++
		child, err := p.body(key, depth+1)
		if err != nil {
			return err
		}
		sec.sections = append(sec.sections, child)
		return nil
	case '=':
		p.pos++
		v, err := p.value(true)
		if err != nil {
			return err
		}
		sec.values[key] = v
		return nil
	}
	return p.errorf("expected '=' or '{' after %q", key)
}

// ident reads a name: anything up to white space or punctuation.
func (p *cfgParser) ident() string {
	start := p.pos
	for p.pos < len(p.src) && !strings.ContainsRune(" \t\n\r\f\v#{}=[],\"'", rune(p.src[p.pos])) {
		p.pos++
	}
	return p.src[start:p.pos]
}

// value parses a string, a number or (when allowList) a [list].
func (p *cfgParser) value(allowList bool) (cfgValue, error) {
	p.skip()
	if p.pos >= len(p.src) {
		return cfgValue{}, p.errorf("expected a value, found the end")
	}
	switch c := p.src[p.pos]; {
	case c == '"' || c == '\'':
		s, err := p.quoted(c)
		return cfgValue{str: s}, err
	case c == '[' && allowList:
		return p.list()
	case c == '-' || c == '+' || c == '.' || c >= '0' && c <= '9':
		return p.number()
	}
	return cfgValue{}, p.errorf("unexpected %q in value", p.src[p.pos])
}

// quoted reads a string delimited by q; a backslash escapes the next byte.
func (p *cfgParser) quoted(q byte) (string, error) {
	start := p.pos
	p.pos++
	var b strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		p.pos++
		switch {
		case c == q:
			return b.String(), nil
		case c == '\\' && p.pos < len(p.src):
			b.WriteByte(p.src[p.pos])
			p.pos++
		default:
			b.WriteByte(c)
		}
	}
	p.pos = start
	return "", p.errorf("string not terminated")
}

// number reads an integer (decimal, or 0x hex); a float is kept as text.
func (p *cfgParser) number() (cfgValue, error) {
	start := p.pos
	for p.pos < len(p.src) && strings.IndexByte("+-.0123456789abcdefABCDEFxX", p.src[p.pos]) >= 0 {
		p.pos++
	}
	text := p.src[start:p.pos]
	if n, err := strconv.ParseInt(text, 0, 64); err == nil {
		return cfgValue{num: n, isNum: true}, nil
	}
	if _, err := strconv.ParseFloat(text, 64); err == nil {
		return cfgValue{str: text}, nil
	}
	p.pos = start
	return cfgValue{}, p.errorf("bad number %q", text)
}

// list reads "[v, v, ...]"; lists do not nest.
func (p *cfgParser) list() (cfgValue, error) {
	p.pos++ // '['
	l := cfgValue{isArr: true}
	for {
		p.skip()
		if p.pos >= len(p.src) {
			return l, p.errorf("list not closed")
		}
		if p.src[p.pos] == ']' {
			p.pos++
			return l, nil
		}
		v, err := p.value(false)
		if err != nil {
			return l, err
		}
		l.list = append(l.list, v)
		p.skip()
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
		}
	}
}
