package fat

import (
	"strings"
	"testing"
)

// TestFoldKeyMatchesEqualFold: Lookup's index must agree with
// strings.EqualFold, the documented comparison.
func TestFoldKeyMatchesEqualFold(t *testing.T) {
	names := []string{"readme.txt", "README.TXT", "ReadMe.txt", "Grüße", "GRÜSSE", "GRÜßE", "grüße",
		"Kelvin", "\u212Aelvin", "kelvin", "ΣΊΣΥΦΟΣ", "σίσυφος", "σίσυφοσ", "ǅ", "ǆ", "Ǆ", "ſ", "s", "S",
		"日本語", "emoji 😀", "EMOJI 😀", "\xff", "\xfe", "İstanbul", "istanbul", "ı"}
	for _, a := range names {
		for _, b := range names {
			if got, want := foldKey(a) == foldKey(b), strings.EqualFold(a, b); got != want {
				t.Errorf("%q vs %q: foldKey equal %v, EqualFold %v", a, b, got, want)
			}
		}
	}
}
