package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/fs/tree"
	"github.com/vmarchive/vmarchive/guestfs"
)

// Options are what the service gives the web server.
type Options struct {
	Archive tree.Archive
	Log     *slog.Logger // default slog.Default()
	Guest   *guestfs.Options
	// ReadTimeout bounds one read from the archive (default 1 minute).
	ReadTimeout time.Duration
	// AdminToken is the service's token-file: a bearer token of an admin.
	AdminToken string
	// API is served under /v1/ to admins; Metrics at /metrics.
	API, Metrics http.Handler
	// Jobs feeds the UI's job pages; default: read from API.
	Jobs Jobs
}

// Server is the HTTP side of `vmarchive serve`: WebDAV, downloads, the
// API and metrics, all behind Auth.
type Server struct {
	cfg  *Config
	auth *Auth
	view *view
	log  *slog.Logger
	mux  *http.ServeMux
	jobs Jobs // nil: no service API

	compares reportCache
	stats    catalog.StatsCache
	// statsWait is how long the dashboard waits for repository figures
	// being computed before it shows the last ones.
	statsWait time.Duration
}

// New builds the server of cfg (checked by Config.Check).
func New(cfg *Config, o Options) *Server {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = time.Minute
	}
	s := &Server{cfg: cfg, auth: NewAuth(cfg, o.AdminToken, o.Log), log: o.Log, mux: http.NewServeMux()}
	s.statsWait = 2 * time.Second
	s.view = &view{archive: o.Archive, guest: o.Guest, timeout: o.ReadTimeout}
	s.jobs = o.Jobs
	if s.jobs == nil && o.API != nil {
		s.jobs = apiJobs{o.API}
	}
	need := s.auth.Require
	if o.Metrics != nil {
		if cfg.OpenMetrics {
			s.mux.Handle("GET /metrics", o.Metrics)
		} else {
			s.mux.Handle("GET /metrics", need(o.Metrics))
		}
	}
	if o.API != nil {
		s.mux.Handle("/v1/", need(AdminOnly(o.API)))
	}
	dav := need(s.davHandler("/dav"))
	s.mux.Handle("/dav/", dav)
	s.mux.Handle("/dav", dav) // Windows asks without the slash
	s.mux.Handle("GET /download/", need(http.StripPrefix("/download", http.HandlerFunc(s.download))))
	s.mux.Handle("HEAD /download/", need(http.StripPrefix("/download", http.HandlerFunc(s.download))))
	s.uiRoutes()
	s.mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusSeeOther))
	s.mux.Handle("/", need(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, fmt.Sprintf("no such page: %q", r.URL.Path), http.StatusNotFound)
	})))
	return s
}

// ServeHTTP refuses paths no client of the tree sends before routing
// (ServeMux would redirect a ".." path instead).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := checkPath(r.URL.Path); err != nil {
		http.Error(w, fmt.Sprintf("bad path %q: %v", r.URL.Path, err), http.StatusBadRequest)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// checkPath refuses "." and ".." elements and NUL. Names that are not
// UTF-8 are allowed: ext4 names are bytes, and a client sends them
// percent-encoded as listed.
func checkPath(p string) error {
	if strings.IndexByte(p, 0) >= 0 {
		return errors.New("NUL in path")
	}
	for _, e := range strings.Split(p, "/") {
		if e == "." || e == ".." {
			return errBadPath
		}
	}
	return nil
}

// quote renders an untrusted name for messages and logs.
func quote(s string) string {
	if utf8.ValidString(s) {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%+q", s)
}
