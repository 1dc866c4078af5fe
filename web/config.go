package web

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Config is the service config's web: section.
type Config struct {
	Users []User `yaml:"users"`
	TLS   *TLS   `yaml:"tls"`
	// OpenMetrics serves /metrics without authentication (for a
	// Prometheus that cannot send credentials).
	OpenMetrics bool `yaml:"open-metrics"`
}

// User is one account.
type User struct {
	Name         string   `yaml:"name"`
	PasswordHash string   `yaml:"password-hash"` // bcrypt ($2a$/$2b$/$2y$) or argon2id PHC string
	TokenFile    string   `yaml:"token-file"`    // a bearer token, the file's first line
	Role         string   `yaml:"role"`          // admin or operator (default)
	VMs          []string `yaml:"vms"`           // operator: globs of the VMs they see

	token string
}

// TLS names the certificate and key the listener serves.
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Roles.
const (
	RoleAdmin    = "admin"
	RoleOperator = "operator"
)

// FieldError names the key of the web: section that is wrong, as a
// path of map keys and list indexes from web: down.
type FieldError struct {
	Path []any
	Msg  string
}

func (e *FieldError) Error() string { return e.Msg }

func fieldErr(msg string, path ...any) error {
	return &FieldError{Path: path, Msg: msg}
}

// Check validates the section and reads token files; relative paths are
// taken from dir (the config file's directory). Errors are *FieldError.
func (c *Config) Check(dir string) error {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	seen := map[string]bool{}
	for i := range c.Users {
		u := &c.Users[i]
		u.TokenFile = abs(u.TokenFile)
		if err := u.check(i, seen); err != nil {
			return err
		}
	}
	if t := c.TLS; t != nil {
		t.Cert, t.Key = abs(t.Cert), abs(t.Key)
		for _, f := range []struct{ key, p string }{{"cert", t.Cert}, {"key", t.Key}} {
			if f.p == "" {
				return fieldErr("missing: give both cert and key", "tls")
			}
			if _, err := os.Stat(f.p); err != nil {
				return fieldErr(err.Error(), "tls", f.key)
			}
		}
	}
	return nil
}

func (u *User) check(i int, seen map[string]bool) error {
	if u.Name == "" || strings.ContainsAny(u.Name, ":\x00\r\n") {
		return fieldErr(fmt.Sprintf("user name %q: not empty, no ':' or control characters", u.Name), "users", i, "name")
	}
	if seen[u.Name] {
		return fieldErr(fmt.Sprintf("user %q is named twice", u.Name), "users", i, "name")
	}
	seen[u.Name] = true
	if u.PasswordHash == "" && u.TokenFile == "" {
		return fieldErr(fmt.Sprintf("user %q has neither password-hash nor token-file", u.Name), "users", i)
	}
	if u.PasswordHash != "" {
		if err := checkHash(u.PasswordHash); err != nil {
			// Say what is wrong, never the hash itself.
			return fieldErr(fmt.Sprintf("user %q: %v (make one with vmarchive hash-password)", u.Name, err), "users", i, "password-hash")
		}
	}
	if u.TokenFile != "" {
		tok, err := readToken(u.TokenFile)
		if err != nil {
			return fieldErr(fmt.Sprintf("user %q: %v", u.Name, err), "users", i, "token-file")
		}
		u.token = tok
	}
	switch u.Role {
	case "":
		u.Role = RoleOperator
	case RoleAdmin, RoleOperator:
	default:
		return fieldErr(fmt.Sprintf("role %q: want admin or operator", u.Role), "users", i, "role")
	}
	if u.Role == RoleOperator && len(u.VMs) == 0 {
		return fieldErr(fmt.Sprintf("operator %q sees no VM: give vms: globs ([\"*\"] for all)", u.Name), "users", i)
	}
	for j, g := range u.VMs {
		if _, err := path.Match(g, ""); err != nil {
			return fieldErr(fmt.Sprintf("glob %q: %v", g, err), "users", i, "vms", j)
		}
	}
	return nil
}

// readToken reads a token file's first line; it must be long enough not
// to be guessed.
func readToken(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	tok, _, _ := strings.Cut(string(b), "\n")
	tok = strings.TrimSpace(tok)
	if len(tok) < 16 {
		return "", errors.New(p + ": token shorter than 16 characters")
	}
	return tok, nil
}
