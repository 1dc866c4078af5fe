package scan

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
)

// Signal kinds.
const (
	Entropy         = "entropy"
	MassDelete      = "mass-delete"
	MassRename      = "mass-rename"
	RansomNote      = "ransom-note"
	RansomExtension = "ransom-extension"
	Yara            = "yara"
)

// Signal is one tripped signal of a point.
type Signal struct {
	Kind   string   `json:"kind"`
	Detail string   `json:"detail"`
	Files  []string `json:"files,omitempty"` // <disk>/<volume><path>, sorted
}

// Facts are what a point changed against the point before, as the
// classifier needs them.
type Facts struct {
	NewBytes    int64    // bytes of the chunks at the changed disk ranges
	StoredBytes int64    // what they take compressed
	RawBytes    int64    // of NewBytes, in chunks zstd could not shrink
	RawFiles    []string // changed files whose content looks random
	// Deleted counts deleted regular files per extension (lower case,
	// "" for none); Before counts the files of those extensions in the
	// point before (filled by the caller for the ones that may trip).
	Deleted     map[string][]string
	Before      map[string]int
	Renames     map[string][]string // folder -> renamed files in it
	Added       []string            // added or renamed-to files
	YaraMatches []string            // "RULE path"
}

// Classify returns the signals facts trip under rules, in a fixed order.
func Classify(f *Facts, r *Rules) []Signal {
	var out []Signal
	if EntropyTrips(f, r) {
		out = append(out, Signal{Kind: Entropy, Files: sorted(f.RawFiles),
			Detail: fmt.Sprintf("%s of new data compresses only to %s (%.0f%%); %s of it did not compress at all",
				formatBytes(f.NewBytes), formatBytes(f.StoredBytes), 100*float64(f.StoredBytes)/float64(f.NewBytes), formatBytes(f.RawBytes))})
	}
	for _, ext := range sortedKeys(f.Deleted) {
		n, before := len(f.Deleted[ext]), f.Before[ext]
		if n >= r.DeleteMin && before > 0 && float64(n) > r.DeleteShare*float64(before) {
			out = append(out, Signal{Kind: MassDelete, Files: sorted(f.Deleted[ext]),
				Detail: fmt.Sprintf("%d of %d %s files deleted", n, before, extName(ext))})
		}
	}
	for _, dir := range sortedKeys(f.Renames) {
		if n := len(f.Renames[dir]); n >= r.RenameMin {
			out = append(out, Signal{Kind: MassRename, Files: sorted(f.Renames[dir]),
				Detail: fmt.Sprintf("%d files renamed in %s", n, dir)})
		}
	}
	out = appendMatches(out, f.Added, r)
	if len(f.YaraMatches) > 0 {
		out = append(out, Signal{Kind: Yara, Files: sorted(f.YaraMatches),
			Detail: fmt.Sprintf("%d YARA match(es) in added or changed files", len(f.YaraMatches))})
	}
	return out
}

// EntropyTrips reports whether the new data of f compresses too little.
func EntropyTrips(f *Facts, r *Rules) bool {
	return f.NewBytes > 0 && f.StoredBytes > 0 && f.StoredBytes >= r.EntropyMinBytes &&
		float64(f.StoredBytes) >= r.EntropyShare*float64(f.NewBytes)
}

// appendMatches adds the ransom-note and ransom-extension signals.
func appendMatches(out []Signal, added []string, r *Rules) []Signal {
	var notes, exts []string
	for _, p := range added {
		base := strings.ToLower(path.Base(p))
		if slices.ContainsFunc(r.Notes, func(pat string) bool { ok, _ := path.Match(pat, base); return ok }) {
			notes = append(notes, p)
		}
		if slices.ContainsFunc(r.Extensions, func(e string) bool { return strings.HasSuffix(base, e) && len(base) > len(e) }) {
			exts = append(exts, p)
		}
	}
	if len(notes) > 0 {
		out = append(out, Signal{Kind: RansomNote, Files: sorted(notes),
			Detail: fmt.Sprintf("%d file(s) named like a ransom note", len(notes))})
	}
	if len(exts) > 0 {
		out = append(out, Signal{Kind: RansomExtension, Files: sorted(exts),
			Detail: fmt.Sprintf("%d file(s) with a ransomware extension", len(exts))})
	}
	return out
}

// extension is the lower-case extension of a path's base name, "" for none.
func extension(p string) string {
	base := path.Base(p)
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		return strings.ToLower(base[i:])
	}
	return ""
}

func extName(ext string) string {
	if ext == "" {
		return "extension-less"
	}
	return ext
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return slices.Compact(s)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
