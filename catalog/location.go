package catalog

import (
	"fmt"
	"strings"
)

// Location is where a repository lives, as given by --repo: a local
// directory, or (in later versions) an object store named by a scheme such
// as s3:https://host/bucket. Every command parses --repo here, so a new
// backend adds its scheme in one place.
type Location struct {
	Scheme string // "local"
	Path   string // the directory, for "local"
}

// ParseLocation parses a repository argument. A path is a local directory;
// "local:PATH" is too. Any other "scheme:" prefix is refused until a backend
// for it exists, rather than becoming a directory named after the URL.
func ParseLocation(s string) (Location, error) {
	if s == "" {
		return Location{}, fmt.Errorf("no repository given")
	}
	scheme, rest, ok := cutScheme(s)
	switch {
	case !ok:
		return Location{Scheme: "local", Path: s}, nil
	case scheme == "local" && rest != "":
		return Location{Scheme: "local", Path: rest}, nil
	}
	return Location{}, fmt.Errorf("repository %q: unknown scheme %q: only local directories are supported (a local directory whose name has a colon: write ./%s)", s, scheme, s)
}

// cutScheme splits "scheme:rest" where scheme is as in RFC 3986 (a letter,
// then letters, digits, '+', '-', '.'). Paths starting with '/' or '.' have
// no scheme.
func cutScheme(s string) (scheme, rest string, ok bool) {
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return "", "", false
	}
	for j, c := range s[:i] {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (j == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", "", false
		}
	}
	return strings.ToLower(s[:i]), s[i+1:], true
}
