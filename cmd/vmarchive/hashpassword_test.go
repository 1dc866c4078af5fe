package main

import (
	"bytes"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/vmarchive/vmarchive/web"
)

// TestHashPassword: the password comes from stdin, the hash printed logs
// a web user in, and neither output holds the password.
func TestHashPassword(t *testing.T) {
	const pw = "correct horse battery"
	for _, args := range [][]string{{"hash-password"}, {"hash-password", "--bcrypt"}} {
		cmd := exec.Command(vmarchiveBin(t), args...)
		cmd.Stdin = strings.NewReader(pw + "\n")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errb.String())
		}
		hash := strings.TrimSpace(out.String())
		if strings.Contains(out.String()+errb.String(), pw) {
			t.Fatalf("output holds the password: %q %q", out.String(), errb.String())
		}
		cfg := &web.Config{Users: []web.User{{Name: "ann", PasswordHash: hash, Role: "admin"}}}
		if err := cfg.Check(t.TempDir()); err != nil {
			t.Fatalf("%v: hash %q refused: %v", args, hash, err)
		}
		a := web.NewAuth(cfg, "", nil)
		for _, try := range []struct {
			pw string
			ok bool
		}{{pw, true}, {pw + " ", false}} {
			r := httptest.NewRequest("GET", "/dav/", nil)
			r.RemoteAddr = "127.0.0.1:4000"
			r.SetBasicAuth("ann", try.pw)
			if p, err := a.Authenticate(r); (err == nil && p != nil) != try.ok {
				t.Errorf("%v: password %q: %v %v", args, try.pw, p, err)
			}
		}
	}
	cmd := exec.Command(vmarchiveBin(t), "hash-password")
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no password on stdin") {
		t.Errorf("empty stdin: %v %s", err, out)
	}
}
