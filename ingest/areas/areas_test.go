package areas

import (
	"fmt"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"0 4096\n8192 4096\n", "[{0 4096} {8192 4096}]"},
		{"# cbt\n0x1000,0x1000\n\n0 4096 # first\n", "[{0 8192}]"},
		{`[{"start":10,"length":5},{"start":0,"length":12}]`, "[{0 15}]"},
		{`{"startOffset":0,"length":65536,"changedArea":[{"start":4096,"length":512}]}`, "[{4096 512}]"},
		{"", "[]"},
	} {
		got, err := Parse(strings.NewReader(c.in), 1<<20)
		if err != nil || fmt.Sprint(got) != strings.Replace(c.want, "[]", "[]", 1) && !(len(got) == 0 && c.want == "[]") {
			t.Errorf("Parse(%q) = %v, %v; want %s", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"1 2 3", "x 5", "0 2000000", "-5 10", `[{"start":1}]`, `{"changedArea":`} {
		if _, err := Parse(strings.NewReader(bad), 1<<20); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("0 4096\n8192 4096\n")
	f.Add(`[{"start":10,"length":5}]`)
	f.Add(`{"changedArea":[{"start":4096,"length":512}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		ext, err := Parse(strings.NewReader(s), 1<<30)
		if err != nil {
			return
		}
		end := int64(-1)
		for _, e := range ext {
			if e.Off <= end || e.Len <= 0 || e.Off+e.Len > 1<<30 {
				t.Fatalf("bad merged extents %v", ext)
			}
			end = e.Off + e.Len
		}
	})
}
