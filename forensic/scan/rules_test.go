package scan

import (
	"slices"
	"strings"
	"testing"
)

func TestParseRules(t *testing.T) {
	r, err := ParseRules(strings.NewReader(`
# lower thresholds for a small VM
entropy-share 0.5   # half
entropy-min-bytes 2MiB
delete-min 10
rename-min 5
note PAY_ME*.txt
extension .Wasted
yara /etc/rules/a.yar
`), "test.rules")
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultRules()
	if r.EntropyShare != 0.5 || r.EntropyMinBytes != 2<<20 || r.DeleteMin != 10 || r.RenameMin != 5 || r.DeleteShare != d.DeleteShare {
		t.Errorf("thresholds %+v", r)
	}
	if !slices.Contains(r.Notes, "pay_me*.txt") || len(r.Notes) != len(d.Notes)+1 {
		t.Errorf("notes do not extend the defaults: %v", r.Notes)
	}
	if !slices.Contains(r.Extensions, ".wasted") || !slices.Contains(r.Extensions, ".locked") {
		t.Errorf("extensions %v", r.Extensions)
	}
	if !slices.Equal(r.Yara, []string{"/etc/rules/a.yar"}) {
		t.Errorf("yara %v", r.Yara)
	}
}

func TestParseRulesErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"entropy-share 1.5", `rules r line 1: entropy-share "1.5": want a fraction from 0 to 1`},
		{"\n\ndelete-min -3", `rules r line 3: delete-min "-3": want a whole number of at least 1`},
		{"entropy-min-bytes lots", `rules r line 1: entropy-min-bytes "lots": want a byte count, like 64MiB`},
		{"entropy-min-bytes 99999999999TiB", `want a byte count`},
		{"extension locked", `extension "locked": want a dot and a name`},
		{"note [x", `note "[x": syntax error in pattern`},
		{"colour blue", `unknown key "colour"`},
		{"rename-min", `"rename-min" needs a value`},
		{strings.Repeat("x", 5000), `token too long`},
	} {
		_, err := ParseRules(strings.NewReader(tc.text), "r")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.40q: error %v, want %q", tc.text, err, tc.want)
		}
	}
}

// FuzzParseRules: any rule text parses or fails with an error, never a
// panic, and what parses has thresholds in range.
func FuzzParseRules(f *testing.F) {
	f.Add(defaultRules)
	f.Add("entropy-share 0.5\nentropy-min-bytes 3GiB\nnote *.x\nextension .y\n")
	f.Add("delete-share NaN\n")
	f.Fuzz(func(t *testing.T, text string) {
		r, err := ParseRules(strings.NewReader(text), "fuzz")
		if err != nil {
			return
		}
		if r.EntropyShare < 0 || r.EntropyShare > 1 || r.DeleteShare < 0 || r.DeleteShare > 1 || r.DeleteMin < 1 || r.RenameMin < 1 || r.EntropyMinBytes < 0 {
			t.Fatalf("out of range: %+v", r)
		}
	})
}
