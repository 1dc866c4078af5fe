package units

import "testing"

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1048576", 1 << 20, true},
		{"200MiB", 200 << 20, true},
		{"64m", 64 << 20, true},
		{" 4 GiB ", 4 << 30, true},
		{"2TiB", 2 << 40, true},
		{"1KB", 1 << 10, true},
		{"0", 0, true},
		{"", 0, false},
		{"-1M", 0, false},
		{"fast", 0, false},
		{"1.5M", 0, false},
		{"9999999999TiB", 0, false},
		{"MiB", 0, false},
	} {
		got, err := ParseBytes(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
