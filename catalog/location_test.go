package catalog

import (
	"strings"
	"testing"
)

// TestParseLocationHidesPasswords: a --repo value of another scheme that
// carries a password (sftp://user:pw@host/...) is refused without
// repeating the password.
func TestParseLocationHidesPasswords(t *testing.T) {
	for _, s := range []string{"sftp://backup:hunter2-distinctive@host/srv/repo", "rest:https://u:hunter2-distinctive@host:8000/"} {
		_, err := ParseLocation(s)
		if err == nil || !strings.Contains(err.Error(), "unknown scheme") {
			t.Fatalf("%s: %v", s, err)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	for s, want := range map[string]Location{"/srv/a:b": {Scheme: "local", Path: "/srv/a:b"}, "local:rel": {Scheme: "local", Path: "rel"}} {
		if got, err := ParseLocation(s); err != nil || got.Scheme != want.Scheme || got.Path != want.Path {
			t.Errorf("%s: got %+v, %v", s, got, err)
		}
	}
}
