package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Browser sessions: a login form trades a password for a random cookie
// (HttpOnly, SameSite=Strict, Secure over TLS). A session ends on logout,
// after sessionIdle without a request, or sessionMax after login. Every
// POST of the UI carries the session's CSRF token.
const (
	sessionCookie = "vmarchive_session"
	loginCookie   = "vmarchive_login" // the login form's CSRF token (double submit)
	sessionIdle   = 30 * time.Minute
	sessionMax    = 12 * time.Hour
	maxSessions   = 10000
)

var errSessionExpired = errors.New("session expired or logged out: log in again")

type session struct {
	user     *User
	csrf     string
	created  time.Time
	lastSeen time.Time // guarded by sessions.mu
}

// sessions are kept in memory under the SHA-256 of their cookie: a
// restart logs everyone out, which is fine for a backup console.
type sessions struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[[32]byte]*session // guarded by mu
}

func newSessions() *sessions {
	return &sessions{now: time.Now, m: map[[32]byte]*session{}}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session of u and returns its cookie value.
func (s *sessions) create(u *User) string {
	tok := randomToken()
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxSessions {
		s.expireLocked(now)
		for k := range s.m { // still full: drop any one
			if len(s.m) < maxSessions {
				break
			}
			delete(s.m, k)
		}
	}
	s.m[sha256.Sum256([]byte(tok))] = &session{user: u, csrf: randomToken(), created: now, lastSeen: now}
	return tok
}

func (s *sessions) expireLocked(now time.Time) {
	for k, se := range s.m {
		if !se.live(now) {
			delete(s.m, k)
		}
	}
}

func (se *session) live(now time.Time) bool {
	return now.Sub(se.lastSeen) < sessionIdle && now.Sub(se.created) < sessionMax
}

// get returns the live session of a cookie value and marks it used.
func (s *sessions) get(tok string) *session {
	k := sha256.Sum256([]byte(tok))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.m[k]
	if se == nil {
		return nil
	}
	if !se.live(now) {
		delete(s.m, k)
		return nil
	}
	se.lastSeen = now
	return se
}

func (s *sessions) end(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, sha256.Sum256([]byte(tok)))
}

// cookieMethod authenticates by session cookie: GET and HEAD anywhere,
// POST only to the UI (whose handlers check the CSRF token). A request
// with an Authorization header is left to the other methods.
func (a *Auth) cookieMethod(r *http.Request) (*Principal, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || r.Header.Get("Authorization") != "" {
		return nil, nil
	}
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
	case r.Method == http.MethodPost && (strings.HasPrefix(r.URL.Path, "/ui/") || r.URL.Path == "/logout"):
	default:
		return nil, nil
	}
	se := a.sessions.get(c.Value)
	if se == nil {
		return nil, errSessionExpired
	}
	p := principal(se.user)
	p.session = se
	return p, nil
}

// checkCSRF reports whether a POST carries its session's token.
func checkCSRF(r *http.Request, p *Principal) bool {
	if p == nil || p.session == nil {
		return false
	}
	got := r.PostFormValue("csrf")
	return subtle.ConstantTimeCompare([]byte(got), []byte(p.session.csrf)) == 1 && got != ""
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}
