package vsphere

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/session/keepalive"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
)

// Config says how to reach and log in to vCenter or ESXi, following govc's
// conventions. Password is a secret: Config has no String method that
// shows it, and Redacted is what goes into messages.
type Config struct {
	URL          string // host, https://host/sdk or user:password@host
	Username     string // overrides the URL's user
	Password     string // overrides the URL's password; never logged
	PasswordFile string // read when Password is empty; first line, trailing newline dropped
	Insecure     bool   // skip certificate verification
	CACerts      string // PEM file(s) of trusted CAs (GOVC_TLS_CA_CERTS)
	KnownHosts   string // "host thumbprint" lines (GOVC_TLS_KNOWN_HOSTS)
	Thumbprint   string // SHA-1 or SHA-256 thumbprint of the vCenter certificate
}

// FromEnv reads govc's environment variables.
func FromEnv(getenv func(string) string) Config {
	return Config{
		URL:        getenv("GOVC_URL"),
		Username:   getenv("GOVC_USERNAME"),
		Password:   getenv("GOVC_PASSWORD"),
		Insecure:   parseBool(getenv("GOVC_INSECURE")),
		CACerts:    getenv("GOVC_TLS_CA_CERTS"),
		KnownHosts: getenv("GOVC_TLS_KNOWN_HOSTS"),
	}
}

// parseBool reads a boolean variable: what govc takes ("1", "true" in any
// case) and the rest of strconv.ParseBool's forms. Anything else is false,
// as in govc: certificates stay verified.
func parseBool(s string) bool {
	b, err := strconv.ParseBool(strings.ToLower(s))
	return err == nil && b
}

// URLHasPassword reports whether a vCenter URL carries a password, so a
// caller can refuse one given on the command line. An unparsable URL counts
// when a ':' comes before an '@' in what follows the scheme.
func URLHasPassword(raw string) bool {
	if u, err := soap.ParseURL(raw); err == nil && u != nil {
		if u.User == nil {
			return false
		}
		p, _ := u.User.Password() // ParseURL gives an empty one when none
		return p != ""
	}
	if _, rest, ok := strings.Cut(raw, "://"); ok {
		raw = rest
	}
	at := strings.LastIndexByte(raw, '@')
	return at > 0 && strings.Contains(raw[:at], ":")
}

// Redacted is the URL without credentials other than the user name.
func (c Config) Redacted() string {
	u, _, err := c.endpoint()
	if err != nil {
		return "(unparsable vCenter URL)"
	}
	return u.Redacted()
}

// endpoint parses the URL and returns it without its password, plus the
// credentials to log in with.
func (c Config) endpoint() (*url.URL, *url.Userinfo, error) {
	if c.URL == "" {
		return nil, nil, errors.New("no vCenter URL: give --vcenter or set GOVC_URL")
	}
	// url.Parse errors quote the input, which may hold a password.
	u, err := soap.ParseURL(c.URL)
	if err != nil || u == nil || u.Host == "" {
		return nil, nil, errors.New("vCenter URL cannot be parsed: want host, https://host/sdk or user@host")
	}
	user, pass := "", ""
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
	}
	if c.Username != "" {
		user = c.Username
	}
	if c.Password != "" {
		pass = c.Password
	}
	u.User = nil
	if user != "" {
		u.User = url.User(user) // for messages; login takes the returned Userinfo
	}
	return u, url.UserPassword(user, pass), nil
}

// secret returns the password from Config, a password file, or a value
// naming a file (govc's session.Secret).
func (c Config) secret() (string, error) {
	if c.Password != "" {
		return session.Secret(c.Password)
	}
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("password file: %w", err)
		}
		s, _, _ := strings.Cut(string(b), "\n")
		return strings.TrimSuffix(s, "\r"), nil
	}
	return "", nil
}

// Resolved returns the settings with the password read (from a password
// file or a GOVC_PASSWORD naming one) and file names made absolute, for
// another process in another directory to use.
func (c Config) Resolved() (Config, error) {
	p, err := c.secret()
	if err != nil {
		return Config{}, err
	}
	c.Password, c.PasswordFile = p, ""
	for _, f := range []*string{&c.CACerts, &c.KnownHosts} {
		list := filepath.SplitList(*f) // GOVC_TLS_CA_CERTS may name several
		for i, p := range list {
			if abs, err := filepath.Abs(p); err == nil && p != "" {
				list[i] = abs
			}
		}
		*f = strings.Join(list, string(filepath.ListSeparator))
	}
	return c, nil
}

// Connect logs in and returns a Client; Close logs out.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	u, login, err := cfg.endpoint()
	if err != nil {
		return nil, err
	}
	pass, _ := login.Password()
	if p, err := cfg.secret(); err != nil {
		return nil, err
	} else if p != "" {
		pass = p
	}
	login = url.UserPassword(login.Username(), pass)
	sc := soap.NewClient(u, cfg.Insecure)
	if cfg.CACerts != "" {
		if err := sc.SetRootCAs(cfg.CACerts); err != nil {
			return nil, fmt.Errorf("TLS CA certificates %s: %w", cfg.CACerts, err)
		}
	}
	if err := sc.LoadThumbprints(cfg.KnownHosts); err != nil {
		return nil, fmt.Errorf("TLS known hosts %s: %w", cfg.KnownHosts, err)
	}
	if cfg.Thumbprint != "" {
		sc.SetThumbprint(u.Host, cfg.Thumbprint)
	}
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return nil, scrub(fmt.Errorf("connect to %s: %w", u.Redacted(), err), pass)
	}
	// Long disk reads leave the SOAP session idle; keep it alive so the
	// snapshot can still be removed at the end.
	vc.RoundTripper = keepalive.NewHandlerSOAP(vc.RoundTripper, 5*time.Minute, nil)
	if err := session.NewManager(vc).Login(ctx, login); err != nil {
		return nil, scrub(fmt.Errorf("log in to %s as %q: %w", u.Redacted(), login.Username(), err), pass)
	}
	c := NewClient(vc)
	c.secret = pass
	return c, nil
}

// scrub replaces the password in an error's text.
func scrub(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &scrubbed{msg: strings.ReplaceAll(err.Error(), secret, "***"), err: err}
}

// scrubbed keeps errors.Is working while hiding the secret from Error.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }
