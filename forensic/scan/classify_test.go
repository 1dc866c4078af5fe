package scan

import (
	"fmt"
	"slices"
	"testing"
)

// names returns n paths "dir/fNNN.ext".
func names(dir, ext string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s/f%03d%s", dir, i, ext)
	}
	return out
}

func kinds(s []Signal) []string {
	var out []string
	for _, x := range s {
		out = append(out, x.Kind)
	}
	return out
}

// TestClassifyDefaults checks the built-in thresholds at their edges:
// Veeam's 100 files and 50% for deletions, 200 renames in one folder, and
// the entropy share and minimum.
func TestClassifyDefaults(t *testing.T) {
	r := DefaultRules()
	if r.DeleteMin != 100 || r.DeleteShare != 0.5 || r.RenameMin != 200 || r.EntropyShare != 0.7 || r.EntropyMinBytes != 64<<20 {
		t.Fatalf("default thresholds %+v", r)
	}
	const mib = 1 << 20
	for _, tc := range []struct {
		name  string
		facts Facts
		want  []string
	}{
		{"nothing", Facts{}, nil},
		{"entropy", Facts{NewBytes: 80 * mib, StoredBytes: 64 * mib}, []string{Entropy}},
		{"entropy below the share", Facts{NewBytes: 200 * mib, StoredBytes: 139 * mib, RawBytes: 100 * mib}, nil},
		{"entropy below the minimum", Facts{NewBytes: 70 * mib, StoredBytes: 64*mib - 1}, nil},
		{"entropy at the share", Facts{NewBytes: 1000 * mib, StoredBytes: 700 * mib}, []string{Entropy}},
		{"compressible upgrade", Facts{NewBytes: 4000 * mib, StoredBytes: 1200 * mib, RawBytes: 300 * mib}, nil},
		{"100 of 199 deleted", Facts{Deleted: map[string][]string{".docx": names("d", ".docx", 100)}, Before: map[string]int{".docx": 199}}, []string{MassDelete}},
		{"100 of 200 deleted: not more than half", Facts{Deleted: map[string][]string{".docx": names("d", ".docx", 100)}, Before: map[string]int{".docx": 200}}, nil},
		{"99 of 99 deleted", Facts{Deleted: map[string][]string{".docx": names("d", ".docx", 99)}, Before: map[string]int{".docx": 99}}, nil},
		{"deletions split over extensions", Facts{Deleted: map[string][]string{".a": names("d", ".a", 60), ".b": names("d", ".b", 60)}, Before: map[string]int{".a": 60, ".b": 60}}, nil},
		{"200 renames in one folder", Facts{Renames: map[string][]string{"disk0/p1/x": names("disk0/p1/x", ".y", 200)}}, []string{MassRename}},
		{"199 renames in one folder", Facts{Renames: map[string][]string{"disk0/p1/x": names("disk0/p1/x", ".y", 199)}}, nil},
		{"200 renames over two folders", Facts{Renames: map[string][]string{"a": names("a", "", 100), "b": names("b", "", 100)}}, nil},
		{"ransom note", Facts{Added: []string{"disk0/p1/home/ann/HOW_TO_DECRYPT_FILES.html"}}, []string{RansomNote}},
		{"note name ignores case", Facts{Added: []string{"disk0/p2/Users/x/readme_for_decrypt.TXT"}}, []string{RansomNote}},
		{"ransom extension", Facts{Added: []string{"disk0/p1/a/report.docx.LOCKED"}}, []string{RansomExtension}},
		{"an extension alone is no name", Facts{Added: []string{"disk0/p1/a/.locked"}}, nil},
		{"ordinary files", Facts{Added: []string{"disk0/p1/README.txt", "disk0/p1/lock", "disk0/p1/a.lock"}}, nil},
		{"yara", Facts{YaraMatches: []string{"evil disk0/p1/x"}}, []string{Yara}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := kinds(Classify(&tc.facts, r)); !slices.Equal(got, tc.want) {
				t.Errorf("signals %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClassifyNamesFiles(t *testing.T) {
	r := DefaultRules()
	r.DeleteMin = 2
	f := &Facts{Deleted: map[string][]string{".bak": {"d/b.bak", "d/a.bak", "d/a.bak"}}, Before: map[string]int{".bak": 3}}
	s := Classify(f, r)
	if len(s) != 1 || !slices.Equal(s[0].Files, []string{"d/a.bak", "d/b.bak"}) || s[0].Detail != "3 of 3 .bak files deleted" {
		t.Fatalf("got %+v", s)
	}
}
