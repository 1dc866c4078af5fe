package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// Principal is an authenticated user.
type Principal struct {
	Name string
	Role string
	vms  []string // operator: globs of the VMs they see

	session *session // set when a session cookie authenticated the request
}

// Admin reports whether p may do everything.
func (p *Principal) Admin() bool { return p.Role == RoleAdmin }

// Sees reports whether p may see vm.
func (p *Principal) Sees(vm string) bool {
	if p.Admin() {
		return true
	}
	for _, g := range p.vms {
		if ok, _ := path.Match(g, vm); ok {
			return true
		}
	}
	return false
}

type principalKey struct{}

// PrincipalFrom returns the user Require put in ctx.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// errNoCredentials means the request carries none: 401 with a challenge.
var errNoCredentials = errors.New("authentication required")

// method is one way a request proves its user: it returns nil, nil when
// the request does not use it.
type method func(r *http.Request) (*Principal, error)

// Auth decides who a request comes from.
type Auth struct {
	users   map[string]*User
	tokens  []*User // users with a bearer token
	methods []method
	log     *slog.Logger

	cacheKey [32]byte      // keys the cache of verified passwords
	slots    chan struct{} // bounds password hashes computed at once
	mu       sync.Mutex
	verified map[[32]byte]time.Time // keyed hash of user and password -> expiry; guarded by mu

	sessions *sessions
}

// verifiedFor is how long a verified password is remembered.
const verifiedFor = 5 * time.Minute

// NewAuth builds the access control of cfg. adminToken, if set, is one
// more bearer token, of an admin named "token" (the service's token-file).
func NewAuth(cfg *Config, adminToken string, log *slog.Logger) *Auth {
	a := &Auth{users: map[string]*User{}, log: log, sessions: newSessions(), slots: make(chan struct{}, 2), verified: map[[32]byte]time.Time{}}
	rand.Read(a.cacheKey[:])
	for i := range cfg.Users {
		u := &cfg.Users[i]
		a.users[u.Name] = u
		if u.token != "" {
			a.tokens = append(a.tokens, u)
		}
	}
	if adminToken != "" {
		a.tokens = append(a.tokens, &User{Name: "token", Role: RoleAdmin, token: adminToken})
	}
	a.methods = []method{a.cookieMethod, a.bearer, a.basic}
	return a
}

// Authenticate returns the request's user. The error says what is
// wrong without repeating the credentials.
func (a *Auth) Authenticate(r *http.Request) (*Principal, error) {
	for _, m := range a.methods {
		p, err := m(r)
		if p != nil || err != nil {
			return p, err
		}
	}
	return nil, errNoCredentials
}

func principal(u *User) *Principal {
	return &Principal{Name: u.Name, Role: u.Role, vms: u.VMs}
}

func (a *Auth) bearer(r *http.Request) (*Principal, error) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "Bearer ") {
		return nil, nil
	}
	tok := []byte(strings.TrimSpace(h[7:]))
	var found *User
	for _, u := range a.tokens {
		if subtle.ConstantTimeCompare(tok, []byte(u.token)) == 1 {
			found = u
		}
	}
	if found == nil {
		return nil, errors.New("unknown bearer token")
	}
	return principal(found), nil
}

func (a *Auth) basic(r *http.Request) (*Principal, error) {
	name, pw, ok := r.BasicAuth()
	if !ok {
		return nil, nil
	}
	if r.TLS == nil && !loopback(r.RemoteAddr) {
		return nil, errors.New("HTTP Basic is accepted only over TLS or from loopback")
	}
	u := a.users[name]
	if u == nil || u.PasswordHash == "" {
		return nil, errors.New("unknown user or wrong password")
	}
	if !a.check(u, pw) {
		return nil, errors.New("unknown user or wrong password")
	}
	return principal(u), nil
}

// check verifies pw for u, from the cache when it was verified lately.
func (a *Auth) check(u *User, pw string) bool {
	m := hmac.New(sha256.New, a.cacheKey[:])
	m.Write([]byte(u.Name))
	m.Write([]byte{0})
	m.Write([]byte(u.PasswordHash))
	m.Write([]byte{0})
	m.Write([]byte(pw))
	var k [32]byte
	copy(k[:], m.Sum(nil))
	now := time.Now()
	a.mu.Lock()
	exp, ok := a.verified[k]
	a.mu.Unlock()
	if ok && now.Before(exp) {
		return true
	}
	a.slots <- struct{}{}
	good := verifyPassword(u.PasswordHash, []byte(pw))
	<-a.slots
	if good {
		a.mu.Lock()
		if len(a.verified) > 10000 {
			clear(a.verified)
		}
		a.verified[k] = now.Add(verifiedFor)
		a.mu.Unlock()
	}
	return good
}

func loopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Require serves h only to authenticated requests; others get 401 with
// a Basic challenge (WebDAV clients and browsers then ask for a password).
func (a *Auth) Require(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r)
		if err != nil {
			if err != errNoCredentials {
				user, _, _ := r.BasicAuth()
				a.log.Warn("web: authentication failed", "remote", r.RemoteAddr, "user", clip(user), "err", err)
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="vmarchive", charset="UTF-8"`)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// AdminOnly serves h to admins only (after Require).
func AdminOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := PrincipalFrom(r.Context()); p == nil || !p.Admin() {
			http.Error(w, "admins only", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// clip bounds an untrusted string logged.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
