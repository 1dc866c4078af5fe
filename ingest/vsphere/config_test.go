package vsphere

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFromEnvInsecure(t *testing.T) {
	for v, want := range map[string]bool{
		"": false, "1": true, "true": true, "TRUE": true, "True": true, "tRuE": true, "t": true,
		"0": false, "false": false, "no": false, "yes": false, "2": false,
	} {
		env := map[string]string{"GOVC_INSECURE": v, "GOVC_URL": "vc", "GOVC_USERNAME": "u", "GOVC_PASSWORD": "p",
			"GOVC_TLS_CA_CERTS": "ca.pem", "GOVC_TLS_KNOWN_HOSTS": "known"}
		cfg := FromEnv(func(k string) string { return env[k] })
		if cfg.Insecure != want {
			t.Errorf("GOVC_INSECURE=%q: insecure %v, want %v", v, cfg.Insecure, want)
		}
		if cfg.URL != "vc" || cfg.Username != "u" || cfg.Password != "p" || cfg.CACerts != "ca.pem" || cfg.KnownHosts != "known" {
			t.Fatalf("FromEnv: %+v", cfg)
		}
	}
}

func TestURLHasPassword(t *testing.T) {
	for raw, want := range map[string]bool{
		"https://user:pw@vc/sdk":  true,
		"user:pw@vc":              true,
		"https://user:p%zz@vc":    true, // unparsable
		"https://us:pa/ss@vc/sdk": true, // unparsable: '/' in the password
		"https://user@vc/sdk":     false,
		"user@vc":                 false,
		"https://user:@vc/sdk":    false,
		"https://vc:443/sdk":      false,
		"vc":                      false,
	} {
		if got := URLHasPassword(raw); got != want {
			t.Errorf("URLHasPassword(%q) = %v, want %v", raw, got, want)
		}
	}
}

func TestSecret(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	os.WriteFile(pwFile, []byte(" from-file \n"), 0o600)
	firstLine := filepath.Join(dir, "pwlines")
	os.WriteFile(firstLine, []byte("line1 \r\nline2\n"), 0o600)
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"literal", Config{Password: "lit"}, "lit"},
		{"GOVC_PASSWORD naming a file", Config{Password: pwFile}, "from-file"}, // govc trims spaces
		{"password file: first line", Config{PasswordFile: firstLine}, "line1 "},
		{"password before file", Config{Password: "lit", PasswordFile: firstLine}, "lit"},
		{"none", Config{}, ""},
	} {
		got, err := tc.cfg.secret()
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	missing := filepath.Join(dir, "absent")
	if _, err := (Config{PasswordFile: missing}).secret(); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing password file: %v", err)
	}
}

// TestLoginFromEnvWithPasswordFile logs in to the simulator with govc's
// variables, GOVC_PASSWORD naming a file, and with a password file.
func TestLoginFromEnvWithPasswordFile(t *testing.T) {
	img := filepath.Join(t.TempDir(), "web01.raw")
	randomDisk(t, img, 2<<20)
	s := newSim(t, img, false)
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte(testPassword+"\n"), 0o600)
	env := map[string]string{"GOVC_URL": s.cfg.URL, "GOVC_USERNAME": "backup", "GOVC_PASSWORD": pw, "GOVC_INSECURE": "1"}
	cfg := FromEnv(func(k string) string { return env[k] })
	ctx := context.Background()
	c, err := Connect(ctx, cfg)
	if err != nil {
		t.Fatalf("GOVC_PASSWORD naming a file: %v", err)
	}
	c.Close(ctx)
	cfg.Password, cfg.PasswordFile = "", pw
	c, err = Connect(ctx, cfg)
	if err != nil {
		t.Fatalf("password file: %v", err)
	}
	c.Close(ctx)
	os.WriteFile(pw, []byte("wrong\n"), 0o600)
	if _, err := Connect(ctx, cfg); err == nil {
		t.Fatal("logged in with the wrong password from the file")
	}
	// GOVC_INSECURE unset: the simulator's self-signed certificate is refused.
	delete(env, "GOVC_INSECURE")
	env["GOVC_PASSWORD"] = testPassword
	if _, err := Connect(ctx, FromEnv(func(k string) string { return env[k] })); err == nil || strings.Contains(err.Error(), testPassword) {
		t.Fatalf("want a certificate error without the password, got %v", err)
	}
}
