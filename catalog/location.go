package catalog

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/vmarchive/vmarchive/catalog/backend/s3"
)

// Location is where a repository lives, as given by --repo: a local
// directory, or an object store named by a scheme, s3:https://host/bucket.
// Every command parses --repo here, so a new backend adds its scheme in
// one place.
type Location struct {
	Scheme string    // "local" or "s3"
	Path   string    // the directory, for "local"
	S3     s3.Config // for "s3": endpoint, bucket and prefix (options added by the caller)
}

// String names the location in messages (never with credentials).
func (l Location) String() string {
	if l.Scheme == "s3" {
		return l.S3.String()
	}
	return l.Path
}

// ParseLocation parses a repository argument. A path is a local directory;
// "local:PATH" is too; "s3:https://host[:port]/bucket[/prefix]" (or
// s3:http://) an S3-compatible bucket. Any other "scheme:" prefix is
// refused, rather than becoming a directory named after the URL.
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
	case scheme == "s3":
		cfg, err := s3.ParseURL("s3:" + rest)
		if err != nil {
			return Location{}, fmt.Errorf("repository: %w", err)
		}
		return Location{Scheme: "s3", S3: cfg}, nil
	}
	s = userinfo.ReplaceAllString(s, "//${1}:xxxxx@") // another tool's URL may carry its password
	return Location{}, fmt.Errorf("repository %q: unknown scheme %q: local directories and s3: are supported (a local directory whose name has a colon: write ./%s)", s, scheme, s)
}

// userinfo matches the user:password@ of a URL anywhere in a string.
var userinfo = regexp.MustCompile(`//([^/@:]*):[^/@]*@`)

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
