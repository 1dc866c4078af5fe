package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"sync"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/fs"
	"github.com/vmarchive/vmarchive/ingest/bwlimit"
)

// Tester test-restores point m, reading the files sample asks for, and
// says why it failed (package testrestore provides one).
type Tester func(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, sample Sample) error

// Options are what the command gives the service besides its config.
type Options struct {
	Log     *slog.Logger // default: slog.Default()
	Tester  Tester       // nil: points stay untested
	Scanner Scanner      // nil: points stay unscanned
	// RPOCheck is how often RPO states are checked for breaches
	// (default: a quarter of the shortest rpo, from 1s to 30s).
	RPOCheck time.Duration
}

// ErrRunning means a job's previous run is still going.
var ErrRunning = errors.New("a run of this job is still going")

// ErrNoJob means no job has that name.
var ErrNoJob = errors.New("no such job")

// Service runs the jobs of a Config against one open repository.
type Service struct {
	repo    *catalog.Repo
	log     *slog.Logger
	tester  Tester
	scanner Scanner
	// Requests being served (track): Run waits for them, so none uses
	// the repository after the command closes it.
	requests sync.WaitGroup
	// stats counts the repository's bytes for /metrics; mountCounters
	// its mount's reads.
	stats         catalog.StatsCache
	mountCounters fs.Counters
	reqCtx        context.Context
	reqCancel     context.CancelFunc
	rpoTick       time.Duration
	started       time.Time
	runs          sync.WaitGroup // runs going on

	mu struct {
		sync.Mutex
		cfg       *Config
		base      context.Context  // cancelled when the service stops
		running   map[string]*Run  // job name -> its run going on
		sem       chan struct{}    // limits.parallel-vms over all jobs
		bw        *bwlimit.Limiter // limits.bwlimit over all captures; nil: none
		stopSched context.CancelFunc
		late      map[string]bool // job/vm: breach notified (lateState)
	}
}

// New prepares a service; Run starts it.
func New(repo *catalog.Repo, cfg *Config, o Options) *Service {
	s := &Service{repo: repo, log: o.Log, tester: o.Tester, scanner: o.Scanner, rpoTick: o.RPOCheck, started: time.Now()}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.rpoTick <= 0 {
		s.rpoTick = 30 * time.Second
		for _, j := range cfg.Jobs {
			if j.rpo > 0 {
				s.rpoTick = max(time.Second, min(s.rpoTick, j.rpo/4))
			}
		}
	}
	s.reqCtx, s.reqCancel = context.WithCancel(context.Background())
	s.mu.cfg = cfg
	s.mu.running = map[string]*Run{}
	s.mu.sem = make(chan struct{}, cfg.Limits.ParallelVMs)
	s.mu.bw = bwlimit.New(cfg.Limits.bw)
	s.mu.late = s.loadLate()
	return s
}

// Run serves the API and runs the jobs until ctx ends, then cancels the
// runs going on and waits for them to be recorded.
func (s *Service) Run(ctx context.Context) error {
	// Runs may be started from the first moment (the API, a caller of
	// Start while the mount comes up), and are waited for however Run ends.
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		s.runs.Wait()
	}()
	s.mu.Lock()
	s.mu.base = ctx
	s.mu.Unlock()
	api, err := s.listenAPI()
	if err != nil {
		return err
	}
	defer s.drain(api)
	if s.config().Listen != "" {
		metrics, err := s.listenHTTP(s.config())
		if err != nil {
			return err
		}
		defer s.drain(metrics)
	}
	if dir := s.config().Mount; dir != "" {
		unmount, err := s.mountTree(ctx, dir)
		if err != nil {
			return err
		}
		defer unmount()
	}
	defer s.serveNBD(ctx, s.config().NBD)()
	s.startJobs(s.config(), true)
	s.log.Info("serving", "repo", s.repo.Dir(), "jobs", len(s.config().Jobs), "api", catalog.APIPath(s.repo.Dir()), "listen", s.config().Listen)
	s.watchRPO(ctx)
	s.mu.Lock()
	s.mu.stopSched()
	s.mu.Unlock()
	s.runs.Wait()
	s.log.Info("stopped")
	return nil
}

func (s *Service) config() *Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.cfg
}

// Reload reads the config file again. A config that does not load, or
// that names another repository, is refused and the old one stays.
// Runs going on finish under the config they started with.
func (s *Service) Reload() error {
	old := s.config()
	cfg, err := LoadConfig(old.Path)
	if err != nil {
		return err
	}
	if cfg.Repo != old.Repo {
		return fmt.Errorf("config %s: repo changed from %q to %q: restart the service to change it", cfg.Path, old.Repo, cfg.Repo)
	}
	if cfg.Listen != old.Listen || cfg.TokenFile != old.TokenFile || !reflect.DeepEqual(cfg.Web, old.Web) || cfg.Mount != old.Mount || !reflect.DeepEqual(cfg.NBD, old.NBD) {
		s.log.Warn("listen, token-file, web, mount and nbd changes take effect at the next start", "listen", old.Listen, "mount", old.Mount)
		cfg.Listen, cfg.TokenFile, cfg.token, cfg.Web, cfg.Mount, cfg.NBD = old.Listen, old.TokenFile, old.token, old.Web, old.Mount, old.NBD
	}
	s.mu.Lock()
	s.mu.stopSched()
	s.mu.cfg = cfg
	if cap(s.mu.sem) != cfg.Limits.ParallelVMs {
		s.mu.sem = make(chan struct{}, cfg.Limits.ParallelVMs)
	}
	if s.mu.bw.Rate() != cfg.Limits.bw {
		s.mu.bw = bwlimit.New(cfg.Limits.bw)
	}
	s.mu.Unlock()
	s.startJobs(cfg, false)
	s.log.Info("config reloaded", "file", cfg.Path, "jobs", len(cfg.Jobs))
	return nil
}

// job returns the job named name in the current config.
func (s *Service) job(name string) (*Config, *JobConfig) {
	cfg := s.config()
	for i := range cfg.Jobs {
		if cfg.Jobs[i].Name == name {
			return cfg, &cfg.Jobs[i]
		}
	}
	return cfg, nil
}

// Start starts a run of the job now and returns it as it starts.
func (s *Service) Start(name string) (*Run, error) {
	cfg, j := s.job(name)
	if j == nil {
		return nil, fmt.Errorf("job %q: %w", name, ErrNoJob)
	}
	return s.trigger(cfg, j, "manual")
}

// trigger starts a run of j unless one is going on or the service stops.
func (s *Service) trigger(cfg *Config, j *JobConfig, why string) (*Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.base == nil || s.mu.base.Err() != nil {
		return nil, errors.New("the service is stopping")
	}
	if r := s.mu.running[j.Name]; r != nil {
		return nil, fmt.Errorf("job %q: %w (started %s)", j.Name, ErrRunning, r.Start.Format(time.RFC3339))
	}
	run := &Run{Job: j.Name, Start: time.Now().UTC(), Trigger: why, Result: ResultRunning, VMs: []VMRun{}}
	s.mu.running[j.Name] = run
	sem, ctx := s.mu.sem, s.mu.base
	s.runs.Add(1)
	go func() {
		defer s.runs.Done()
		s.execute(ctx, cfg, j, run, sem)
	}()
	return run.clone(), nil
}

// update changes a run going on, under the lock the API reads it with.
func (s *Service) update(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn()
}

// limiter is the bandwidth limit captures starting now read under.
func (s *Service) limiter() *bwlimit.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.bw
}

// drainGrace bounds how long a stop waits for requests going on.
const drainGrace = 10 * time.Second

// track makes srv's requests cancellable by drain and counted, before
// srv serves.
func (s *Service) track(srv *http.Server) {
	h := srv.Handler
	srv.BaseContext = func(net.Listener) context.Context { return s.reqCtx }
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		defer s.requests.Done()
		h.ServeHTTP(w, r)
	})
}

// drain stops srv: its requests going on are cancelled (a download, a
// command run for a client) and given drainGrace to return. Closing the
// server alone does not wait for its handlers, which would then meet a
// closed repository.
func (s *Service) drain(srv *http.Server) {
	s.reqCancel()
	ctx, cancel := context.WithTimeout(context.Background(), drainGrace)
	defer cancel()
	srv.Shutdown(ctx)
	srv.Close()
	done := make(chan struct{})
	go func() { s.requests.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.log.Warn("requests still going on at stop", "after", drainGrace)
	}
}
