package web

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// uiRoutes adds the HTML interface, the login and the logout to s.mux.
func (s *Server) uiRoutes() {
	ui := func(h http.HandlerFunc) http.Handler { return s.requireUI(h) }
	s.mux.Handle("GET /ui/", ui(s.uiDashboard))
	s.mux.Handle("GET /ui/tree/", ui(s.uiTree))
	s.mux.Handle("GET /ui/search", ui(s.uiSearch))
	s.mux.Handle("GET /ui/compare", ui(s.uiCompare))
	s.mux.Handle("GET /ui/jobs", ui(s.uiJobs))
	s.mux.Handle("POST /ui/jobs/run", ui(s.uiRunJob))
	s.mux.HandleFunc("GET /login", s.loginForm)
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.Handle("POST /logout", ui(s.logout))
}

// requireUI is Require for pages: a browser without a session is sent
// to the login form, a POST without its CSRF token refused.
func (s *Server) requireUI(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.auth.Authenticate(r)
		if err != nil {
			if r.Method == http.MethodGet && (err == errNoCredentials || err == errSessionExpired) {
				s.toLogin(w, r, err == errSessionExpired)
				return
			}
			s.auth.log.Warn("web: authentication failed", "remote", r.RemoteAddr, "path", clip(r.URL.Path), "err", err)
			w.Header().Set("WWW-Authenticate", `Basic realm="vmarchive", charset="UTF-8"`)
			s.uiError(w, r, http.StatusUnauthorized, err.Error())
			return
		}
		r = r.WithContext(WithPrincipal(r.Context(), p))
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		}
		if r.Method == http.MethodPost && !checkCSRF(r, p) {
			s.uiError(w, r, http.StatusForbidden, "this form has no valid CSRF token (an old page or another site): reload the page and try again")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) toLogin(w http.ResponseWriter, r *http.Request, expired bool) {
	q := url.Values{"next": {r.URL.RequestURI()}}
	if expired {
		q.Set("expired", "1")
		setCookie(w, r, sessionCookie, "", -1)
	}
	http.Redirect(w, r, "/login?"+q.Encode(), http.StatusSeeOther)
}

type loginBody struct{ Token, Next, Error string }

// loginForm shows the form with a fresh token in a cookie and a field
// (double submit: another site can post the form but not read the cookie).
func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	body := &loginBody{Next: safeNext(r.URL.Query().Get("next"))}
	if r.URL.Query().Get("expired") != "" {
		body.Error = errSessionExpired.Error()
	}
	s.showLogin(w, r, http.StatusOK, body)
}

func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, code int, body *loginBody) {
	body.Token = randomToken()
	setCookie(w, r, loginCookie, body.Token, 3600)
	pg := newPage(nil, "Log in")
	pg.Body = body
	s.render(w, code, "login", pg)
}

// maxForm bounds the body of a form POST.
const maxForm = 64 << 10

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		return
	}
	body := &loginBody{Next: safeNext(r.PostFormValue("next"))}
	c, err := r.Cookie(loginCookie)
	tok := r.PostFormValue("csrf")
	if err != nil || tok == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(tok)) != 1 {
		body.Error = "the login form expired or came from another site: try again"
		s.showLogin(w, r, http.StatusForbidden, body)
		return
	}
	u, err := s.auth.password(r, r.PostFormValue("user"), r.PostFormValue("password"))
	if err != nil {
		s.auth.log.Warn("web: login failed", "remote", r.RemoteAddr, "user", clip(r.PostFormValue("user")), "err", err)
		body.Error = err.Error()
		s.showLogin(w, r, http.StatusUnauthorized, body)
		return
	}
	s.auth.log.Info("web: login", "user", u.Name, "remote", r.RemoteAddr)
	setCookie(w, r, sessionCookie, s.auth.sessions.create(u), int(sessionMax/time.Second))
	setCookie(w, r, loginCookie, "", -1)
	http.Redirect(w, r, body.Next, http.StatusSeeOther)
}

// password checks a user's password, over TLS or from loopback only.
func (a *Auth) password(r *http.Request, name, pw string) (*User, error) {
	if r.TLS == nil && !loopback(r.RemoteAddr) {
		return nil, errors.New("passwords are accepted only over TLS or from loopback")
	}
	u := a.users[name]
	if u == nil || u.PasswordHash == "" || !a.check(u, pw) {
		return nil, errors.New("unknown user or wrong password")
	}
	return u, nil
}

// safeNext keeps a redirect after login on this site's pages.
func safeNext(next string) string {
	if (strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "/download/")) && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return "/ui/"
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	p := PrincipalFrom(r.Context())
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.auth.sessions.end(c.Value)
	}
	setCookie(w, r, sessionCookie, "", -1)
	s.auth.log.Info("web: logout", "user", p.Name)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

type jobRow struct {
	Name, Kind, Schedule, Next, Last, LastError, State string
	Running                                            bool
	VMs                                                []string
}

type jobsBody struct {
	Error string
	Jobs  []jobRow
}

// uiJobs lists the service's jobs with a run-now button (admins).
func (s *Server) uiJobs(w http.ResponseWriter, r *http.Request) {
	p := PrincipalFrom(r.Context())
	if !p.Admin() {
		s.uiError(w, r, http.StatusForbidden, "admins only")
		return
	}
	pg := newPage(p, "Jobs")
	body := &jobsBody{}
	pg.Body = body
	if s.jobs == nil {
		body.Error = "the service's API is not available here"
		s.render(w, http.StatusOK, "jobs", pg)
		return
	}
	switch started := r.URL.Query().Get("started"); {
	case started != "":
		pg.Flash = fmt.Sprintf("job %s started", display(started))
	}
	jobs, err := s.jobs.Jobs(r.Context())
	if err != nil {
		body.Error = err.Error()
	}
	for _, j := range jobs {
		row := jobRow{Name: j.Name, Kind: j.Kind, Schedule: j.Schedule, Next: showTime(j.Next), Running: j.Running != nil}
		if l := j.Last; l != nil {
			row.Last, row.LastError, row.State = l.Result+" at "+showTime(l.Start), l.Error, l.Result
		}
		for _, v := range j.VMs {
			row.VMs = append(row.VMs, fmt.Sprintf("%s: %s", display(v.VM), v.State))
		}
		body.Jobs = append(body.Jobs, row)
	}
	s.render(w, http.StatusOK, "jobs", pg)
}

// uiRunJob is the run-now button (the CSRF token was checked).
func (s *Server) uiRunJob(w http.ResponseWriter, r *http.Request) {
	p := PrincipalFrom(r.Context())
	job := r.PostFormValue("job")
	switch {
	case !p.Admin():
		s.uiError(w, r, http.StatusForbidden, "admins only")
	case s.jobs == nil:
		s.uiError(w, r, http.StatusNotImplemented, "the service's API is not available here")
	default:
		if err := s.jobs.Run(r.Context(), job); err != nil {
			code := http.StatusBadGateway
			if ae := (*apiError)(nil); errors.As(err, &ae) && ae.code < 500 {
				code = ae.code
			}
			s.uiError(w, r, code, fmt.Sprintf("run %s: %v", display(job), err))
			return
		}
		s.log.Info("web: run now", "user", p.Name, "job", job)
		http.Redirect(w, r, "/ui/jobs?"+url.Values{"started": {job}}.Encode(), http.StatusSeeOther)
	}
}
