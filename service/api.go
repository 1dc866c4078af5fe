package service

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/catalog/control"
	"github.com/vmarchive/vmarchive/web"
)

// handler serves the typed API (doc.go).
func (s *Service) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		reply(w, s.Jobs)
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		reply(w, s.Status)
	})
	mux.HandleFunc("GET /v1/runs", func(w http.ResponseWriter, r *http.Request) {
		reply(w, func() ([]*Run, error) { return s.Runs(r.URL.Query().Get("job")) })
	})
	mux.HandleFunc("GET /v1/runs/{job}/{start}", func(w http.ResponseWriter, r *http.Request) {
		reply(w, func() (*Run, error) { return s.run(r.PathValue("job"), r.PathValue("start")) })
	})
	mux.HandleFunc("POST /v1/jobs/{job}/run", func(w http.ResponseWriter, r *http.Request) {
		run, err := s.Start(r.PathValue("job"))
		if err != nil {
			fail(w, err)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(run)
	})
	return mux
}

// run returns a job's run going on or recorded, by its start.
func (s *Service) run(job, start string) (*Run, error) {
	t, err := time.Parse(time.RFC3339Nano, start)
	if err != nil {
		return nil, fmt.Errorf("run start %q: %w", start, errBadRequest)
	}
	s.mu.Lock()
	if r := s.mu.running[job]; r != nil && r.Start.Equal(t) {
		defer s.mu.Unlock()
		return r.clone(), nil
	}
	s.mu.Unlock()
	runs, err := s.Runs(job)
	if err != nil {
		return nil, err
	}
	for _, r := range runs {
		if r.Start.Equal(t) {
			return r, nil
		}
	}
	return nil, fmt.Errorf("job %q has no run started %s: %w", job, start, errNotFound)
}

var (
	errBadRequest = errors.New("bad request")
	errNotFound   = errors.New("not found")
)

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error"`
}

func reply[T any](w http.ResponseWriter, get func() (T, error)) {
	v, err := get()
	if err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNoJob), errors.Is(err, errNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ErrRunning):
		code = http.StatusConflict
	case errors.Is(err, errBadRequest):
		code = http.StatusBadRequest
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(apiError{err.Error()})
}

// listenAPI serves the API on the repository's owner-only socket.
func (s *Service) listenAPI() (*http.Server, error) {
	path := catalog.APIPath(s.repo.Dir())
	if err := control.PrivateDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("API socket %s: %w", path, err)
	}
	// The caller holds the repository: a socket there is a killed holder's.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("API socket %s: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("API socket %s: %w", path, err)
	}
	srv := &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
	s.track(srv)
	go srv.Serve(&ownerListener{Listener: ln, uid: os.Geteuid(), s: s})
	return srv, nil
}

// ownerListener accepts only connections of our user and root, whatever
// the socket's directory allows.
type ownerListener struct {
	net.Listener
	uid int
	s   *Service
}

func (l *ownerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, err := control.PeerUID(c)
		if err == nil && (uid == l.uid || uid == 0) {
			return c, nil
		}
		l.s.log.Warn("API: refused a connection", "uid", uid, "err", err, "allowed", l.uid)
		c.Close()
	}
}

// listenHTTP serves /metrics on cfg.Listen, and the API too when a token
// is set; with a token every request must bear it. With a web: section,
// package web serves everything there (WebDAV, downloads, API, metrics)
// behind its users, over TLS when configured.
func (s *Service) listenHTTP(cfg *Config) (*http.Server, error) {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{s: s})
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	if cfg.Web != nil {
		srv.Handler = web.New(cfg.Web, web.Options{Archive: s.repo, Log: s.log, AdminToken: cfg.token, API: s.handler(), Metrics: metrics})
		s.track(srv)
		if t := cfg.Web.TLS; t != nil {
			go srv.ServeTLS(ln, t.Cert, t.Key)
			return srv, nil
		}
		go srv.Serve(ln)
		return srv, nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	if cfg.token != "" {
		mux.Handle("/v1/", s.handler())
	}
	srv.Handler = mux
	if tok := cfg.token; tok != "" {
		srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+tok)) != 1 {
				w.Header().Set("WWW-Authenticate", "Bearer")
				http.Error(w, "a token is required (Authorization: Bearer)", http.StatusUnauthorized)
				return
			}
			mux.ServeHTTP(w, r)
		})
	}
	s.track(srv)
	go srv.Serve(ln)
	return srv, nil
}
