package web

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// browser is a client of the server in process, with its cookies.
type browser struct {
	t       *testing.T
	s       *Server
	remote  string
	tls     bool
	cookies map[string]*http.Cookie
}

func newBrowser(t *testing.T, s *Server) *browser {
	return &browser{t: t, s: s, remote: "127.0.0.1:4000", cookies: map[string]*http.Cookie{}}
}

func (b *browser) do(method, target string, form url.Values) *httptest.ResponseRecorder {
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	req.RemoteAddr = b.remote
	if b.tls {
		req.TLS = &tls.ConnectionState{}
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	w := httptest.NewRecorder()
	b.s.ServeHTTP(w, req)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return w
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login logs in through the form and returns the session's CSRF token.
func (b *browser) login(user, pw string) *httptest.ResponseRecorder {
	form := b.do("GET", "/login", nil)
	m := csrfField.FindStringSubmatch(form.Body.String())
	if m == nil {
		b.t.Fatalf("login form without a token:\n%s", form.Body.String())
	}
	return b.do("POST", "/login", url.Values{"csrf": {m[1]}, "user": {user}, "password": {pw}, "next": {"/ui/"}})
}

func (b *browser) csrf() string {
	m := csrfField.FindStringSubmatch(b.do("GET", "/ui/", nil).Body.String())
	if m == nil {
		b.t.Fatal("no CSRF token on the dashboard")
	}
	return m[1]
}

func expect(t *testing.T, what string, w *httptest.ResponseRecorder, code int, body string) {
	t.Helper()
	if w.Code != code || !strings.Contains(w.Body.String()+w.Header().Get("Location"), body) {
		t.Errorf("%s: %d %q (Location %q), want %d with %q", what, w.Code, clip(w.Body.String()), w.Header().Get("Location"), code, body)
	}
}

// TestSessions: the login form, the session cookie's flags, CSRF on
// every POST, logout, expiry, and an operator's scope in the UI.
func TestSessions(t *testing.T) {
	s, logs := newTestServer(t, smallArchive(t))
	b := newBrowser(t, s)
	expect(t, "no session", b.do("GET", "/ui/tree/web1/", nil), 303, "/login?next=%2Fui%2Ftree%2Fweb1%2F")
	expect(t, "root", b.do("GET", "/", nil), 303, "/ui/")
	form := b.do("GET", "/login", nil)
	lc := b.cookies[loginCookie]
	if lc == nil || !lc.HttpOnly || lc.SameSite != http.SameSiteStrictMode || lc.Secure {
		t.Fatalf("login cookie %+v", lc)
	}
	tok := csrfField.FindStringSubmatch(form.Body.String())[1]
	expect(t, "login without token", b.do("POST", "/login", url.Values{"user": {"admin"}, "password": {adminPW}}), 403, "another site")
	expect(t, "login with another token", b.do("POST", "/login", url.Values{"csrf": {tok + "x"}, "user": {"admin"}, "password": {adminPW}}), 403, "another site")
	expect(t, "wrong password", b.login("admin", "nope"), 401, "wrong password")
	far := newBrowser(t, s)
	far.remote = "192.0.2.7:4000"
	expect(t, "password over plain HTTP from afar", far.login("admin", adminPW), 401, "only over TLS or from loopback")
	expect(t, "open redirect", b.do("POST", "/login", url.Values{"csrf": {b.cookies[loginCookie].Value}, "user": {"admin"}, "password": {adminPW}, "next": {"//evil.example/"}}), 303, "/ui/")
	sc := b.cookies[sessionCookie]
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Secure || strings.Contains(sc.Value, adminPW) {
		t.Fatalf("session cookie %+v", sc)
	}
	expect(t, "dashboard", b.do("GET", "/ui/", nil), 200, "db1")
	expect(t, "download with the session", b.do("GET", "/download/web1/"+pt+"/disk0.img", nil), 200, "hello disk")
	expect(t, "API POST with the session", b.do("POST", "/v1/jobs/x/run", url.Values{"csrf": {b.csrf()}}), 401, "")
	expect(t, "run without token", b.do("POST", "/ui/jobs/run", url.Values{"job": {"x"}}), 403, "CSRF")
	expect(t, "run with a wrong token", b.do("POST", "/ui/jobs/run", url.Values{"job": {"x"}, "csrf": {"AAAA"}}), 403, "CSRF")
	expect(t, "logout without token", b.do("POST", "/logout", url.Values{}), 403, "CSRF")
	expect(t, "still logged in", b.do("GET", "/ui/", nil), 200, "admin")
	expect(t, "logout", b.do("POST", "/logout", url.Values{"csrf": {b.csrf()}}), 303, "/login")
	expect(t, "after logout", b.do("GET", "/ui/", nil), 303, "/login")

	// An old cookie after logout, and an idle session, are expired.
	b.login("admin", adminPW)
	old := *b.cookies[sessionCookie]
	b.do("POST", "/logout", url.Values{"csrf": {b.csrf()}})
	b.cookies[sessionCookie] = &old
	expect(t, "cookie after logout", b.do("GET", "/download/web1/"+pt+"/disk0.img", nil), 401, "session expired")
	b.login("admin", adminPW)
	clock := time.Now()
	s.auth.sessions.now = func() time.Time { return clock }
	clock = clock.Add(sessionIdle - time.Minute)
	expect(t, "active session", b.do("GET", "/ui/", nil), 200, "")
	clock = clock.Add(sessionIdle + time.Second)
	expect(t, "idle session", b.do("GET", "/ui/", nil), 303, "expired=1")
	expect(t, "expired page", b.do("GET", "/login?expired=1", nil), 200, "session expired")

	// TLS: the cookies are Secure.
	tb := newBrowser(t, s)
	tb.tls, tb.remote = true, "192.0.2.7:4000"
	expect(t, "login over TLS from afar", tb.login("admin", adminPW), 303, "/ui/")
	if c := tb.cookies[sessionCookie]; c == nil || !c.Secure {
		t.Errorf("session cookie over TLS: %+v", c)
	}

	// An operator of web* sees web1 only, and no jobs.
	op := newBrowser(t, s)
	op.login("helpdesk", opPW)
	w := op.do("GET", "/ui/", nil)
	expect(t, "operator dashboard", w, 200, "web1")
	if strings.Contains(w.Body.String(), "db1") {
		t.Errorf("the operator's dashboard shows db1")
	}
	expect(t, "operator guesses a VM", op.do("GET", "/ui/tree/db1/", nil), 404, "not found")
	expect(t, "operator guesses a point", op.do("GET", "/ui/tree/db1/"+pt+"/disk0/", nil), 404, "not found")
	expect(t, "operator searches another VM", op.do("GET", "/ui/search?vm=db1&q=x", nil), 404, "no VM")
	expect(t, "operator jobs", op.do("GET", "/ui/jobs", nil), 403, "admins only")
	expect(t, "operator run now", op.do("POST", "/ui/jobs/run", url.Values{"job": {"x"}, "csrf": {op.csrf()}}), 403, "admins only")
	if log := logs.String(); strings.Contains(log, adminPW) || strings.Contains(log, opPW) || strings.Contains(log, sc.Value) {
		t.Errorf("the log holds a password or a session cookie:\n%s", log)
	}
}

// TestJobsPage: the jobs page reads the service's API JSON, run now
// POSTs to it with the CSRF token, and the dashboard puts failures first.
func TestJobsPage(t *testing.T) {
	var ran []string
	api := http.NewServeMux()
	api.HandleFunc("GET /v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `[{"name":"nightly","kind":"images","schedule":"@daily","next":"2026-11-21T00:00:00Z",
			"last":{"start":"2026-11-20T00:00:00Z","result":"failed","error":"disk <gone>"},"vms":[{"vm":"db1","state":"failed"}]}]`)
	})
	api.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `[{"vm":"db1","job":"nightly","state":"ok","last_run":"ok"},{"vm":"web1","job":"nightly","state":"failed","last_run":"failed","last_error":"disk <gone>","rpo":"24h"}]`)
	})
	api.HandleFunc("POST /v1/jobs/{job}/run", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("job") != "nightly" {
			w.WriteHeader(404)
			io.WriteString(w, `{"error":"job \"`+r.PathValue("job")+`\" not found"}`)
			return
		}
		ran = append(ran, r.PathValue("job"))
		w.WriteHeader(202)
	})
	s := New(testConfig(t), Options{Archive: smallArchive(t), API: api})
	b := newBrowser(t, s)
	b.login("admin", adminPW)
	dash := b.do("GET", "/ui/", nil).Body.String()
	if i, j := strings.Index(dash, ">web1<"), strings.Index(dash, ">db1<"); i < 0 || j < 0 || i > j || !strings.Contains(dash, "disk &lt;gone&gt;") {
		t.Errorf("dashboard: web1 (failed) not first or its error not shown:\n%s", dash)
	}
	expect(t, "jobs", b.do("GET", "/ui/jobs", nil), 200, "nightly")
	expect(t, "run now", b.do("POST", "/ui/jobs/run", url.Values{"job": {"nightly"}, "csrf": {b.csrf()}}), 303, "/ui/jobs?started=nightly")
	expect(t, "run unknown", b.do("POST", "/ui/jobs/run", url.Values{"job": {"nope"}, "csrf": {b.csrf()}}), 404, "not found")
	if len(ran) != 1 {
		t.Errorf("runs started: %q", ran)
	}
}
