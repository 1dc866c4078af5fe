package service

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/forensic/scan"
	"github.com/vmarchive/vmarchive/ingest/bwlimit"
	"github.com/vmarchive/vmarchive/ingest/vsphere"
	"github.com/vmarchive/vmarchive/web"
)

// Config is the service's configuration file (README.md, "vmarchive serve").
// Every key is known: an unknown one is an error naming it and its line.
type Config struct {
	Repo      string      `yaml:"repo"`
	Mount     string      `yaml:"mount"`      // directory: the FUSE tree, served by the service
	NBD       []NBDConfig `yaml:"nbd"`        // disks of points served over NBD (nbd.go)
	Listen    string      `yaml:"listen"`     // host:port for /metrics (and the API with a token)
	TokenFile string      `yaml:"token-file"` // bearer token required on listen
	History   int         `yaml:"history"`    // runs kept per job (default 50)
	Jobs      []JobConfig `yaml:"jobs"`
	Limits    Limits      `yaml:"limits"`
	Notify    Notify      `yaml:"notify"`
	GC        *GCConfig   `yaml:"gc"`  // gc on its own schedule
	Web       *web.Config `yaml:"web"` // users, TLS: WebDAV and downloads on listen

	// Keys the command reads for opening the repository (as in any
	// vmarchive config file); the service itself ignores them.
	PasswordFile    string `yaml:"password-file"`
	PasswordCommand string `yaml:"password-command"`
	CacheDir        string `yaml:"cache-dir"`
	S3Region        string `yaml:"s3-region"`
	S3CAFile        string `yaml:"s3-ca-file"`

	Path  string `yaml:"-"` // the file read
	token string // TokenFile's first line
}

// JobConfig is one job: where its VMs come from, when and what follows.
type JobConfig struct {
	Name        string         `yaml:"name"`
	VSphere     *VSphereSource `yaml:"vsphere"`
	Images      *ImageSource   `yaml:"images"`
	Schedule    string         `yaml:"schedule"`  // cron: 5 fields or @hourly, @every 10m
	TimeZone    string         `yaml:"time-zone"` // IANA name; default Local
	CBT         bool           `yaml:"cbt"`
	Quiesce     bool           `yaml:"quiesce"`
	RPO         string         `yaml:"rpo"` // duration: "late" past it
	Retention   *Retention     `yaml:"retention"`
	TestRestore string         `yaml:"test-restore"` // every-point, sample N/M, off
	CopyTo      string         `yaml:"copy-to"`      // another repository directory
	Scan        bool           `yaml:"scan"`         // anomaly scan of each new point
	ScanRules   string         `yaml:"scan-rules"`   // a rule file for it; default the built-in rules
	Pre         string         `yaml:"pre"`          // hook run before the capture
	Post        string         `yaml:"post"`         // hook run after (VMARCHIVE_RESULT)
	HookTimeout string         `yaml:"hook-timeout"` // default 10m

	gc          bool // the gc: schedule's job (named GCJob)
	sched       cron.Schedule
	loc         *time.Location
	rpo         time.Duration
	hookTimeout time.Duration
	sample      Sample
}

// VSphereSource names the VMs of a vSphere job and how to log in. The
// password only ever comes from password-file.
type VSphereSource struct {
	URL          string   `yaml:"url"`
	Username     string   `yaml:"username"`
	PasswordFile string   `yaml:"password-file"`
	Insecure     bool     `yaml:"insecure"`
	Thumbprint   string   `yaml:"thumbprint"`
	CACerts      string   `yaml:"ca-certs"`
	Folder       string   `yaml:"folder"`
	VMs          []string `yaml:"vms"`
	ViaVCenter   bool     `yaml:"via-vcenter"`
}

// ImageSource is a directory of disk images, one VM per matching file.
type ImageSource struct {
	Dir    string `yaml:"dir"`
	Match  string `yaml:"match"`   // glob; default "*"
	VMFrom string `yaml:"vm-from"` // basename: the file name without its extension
}

// Retention is a job's forget policy, applied after each run.
type Retention struct {
	Last    int `yaml:"keep-last"`
	Hourly  int `yaml:"keep-hourly"`
	Daily   int `yaml:"keep-daily"`
	Weekly  int `yaml:"keep-weekly"`
	Monthly int `yaml:"keep-monthly"`
	Yearly  int `yaml:"keep-yearly"`
	// Lock locks the kept points until the policy could forget them
	// (catalog.Policy.Apply, Decision.Until); LockDays locks each new
	// point for that many days (vmarchive lock).
	Lock     bool `yaml:"lock"`
	LockDays int  `yaml:"lock-days"`
}

// Limits hold across all jobs.
type Limits struct {
	ParallelVMs int `yaml:"parallel-vms"` // VMs captured at once (default 2)
	Streams     int `yaml:"streams"`      // vSphere range reads per disk (default 4)
	// BWLimit is one rate over every capture's reads, all jobs and VMs
	// together ("200MiB": bytes per second).
	BWLimit string `yaml:"bwlimit"`

	bw int64 // BWLimit in bytes per second; 0: none
}

// Notify says where failures and RPO breaches go.
type Notify struct {
	Webhook string `yaml:"webhook"` // URL receiving a JSON POST per event
	Email   *Email `yaml:"email"`
}

// GCConfig runs gc (catalog.Repo.GC, as `vmarchive gc`) on a schedule
// of its own, recorded in the run history as job GCJob.
type GCConfig struct {
	Schedule string `yaml:"schedule"`
	TimeZone string `yaml:"time-zone"`
}

// GCJob is the job name of gc's runs; no job of the config may take it
// when gc: is set.
const GCJob = "gc"

// Sample is how much of a point a test restore reads: Num of every Den
// files (1/1 every file; Den 0: no test restore).
type Sample struct{ Num, Den int }

// LoadConfig reads and checks the file at path. Errors name the file,
// the line and the key.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := parseConfig(b, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config %s:%w", path, err)
	}
	cfg.Path = path
	return cfg, nil
}

// unknownKey rewrites yaml's "field x not found in type service.T".
var unknownKey = regexp.MustCompile(`line (\d+): field (\S+) not found in type \S+`)

func parseConfig(b []byte, base string) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf(" %w", err)
	}
	cfg := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf(" empty file")
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for i, e := range te.Errors {
				te.Errors[i] = unknownKey.ReplaceAllString(e, "line $1: unknown key \"$2\"")
			}
			return nil, fmt.Errorf("%s", strings.TrimPrefix(strings.Join(te.Errors, "; "), "line "))
		}
		return nil, fmt.Errorf(" %w", err)
	}
	v := validator{root: &root, base: base}
	v.check(cfg)
	if v.err != nil {
		return nil, v.err
	}
	return cfg, nil
}

// validator checks values, naming the key and its line.
type validator struct {
	root *yaml.Node
	base string // relative paths are relative to the config file
	err  error
}

// fail records the first error, at the line of the key at path.
func (v *validator) fail(path []any, format string, a ...any) {
	if v.err != nil {
		return
	}
	line, key := lineOf(v.root, path)
	v.err = fmt.Errorf("%d: %s: %s", line, key, fmt.Sprintf(format, a...))
}

func (v *validator) check(c *Config) {
	if c.Repo == "" {
		v.fail([]any{}, "no repo: name the repository (repo: /srv/vmarchive)")
	}
	if c.History == 0 {
		c.History = 50
	} else if c.History < 0 {
		v.fail([]any{"history"}, "must be at least 1")
	}
	if c.Limits.ParallelVMs == 0 {
		c.Limits.ParallelVMs = 2
	} else if c.Limits.ParallelVMs < 0 {
		v.fail([]any{"limits", "parallel-vms"}, "must be at least 1")
	}
	if c.Limits.BWLimit != "" {
		var err error
		if c.Limits.bw, err = bwlimit.ParseRate(c.Limits.BWLimit); err != nil {
			v.fail([]any{"limits", "bwlimit"}, "%v", err)
		}
	}
	if c.Limits.Streams < 0 {
		v.fail([]any{"limits", "streams"}, "must be at least 1")
	}
	if c.TokenFile != "" {
		c.TokenFile = v.abs(c.TokenFile)
		tok, err := firstLine(c.TokenFile)
		if err != nil || tok == "" {
			v.fail([]any{"token-file"}, "%q: %v", c.TokenFile, orEmpty(err))
		}
		c.token = tok
	}
	if c.Mount != "" {
		c.Mount = v.abs(c.Mount)
		if fi, err := os.Stat(c.Mount); err != nil || !fi.IsDir() {
			v.fail([]any{"mount"}, "%q: %v", c.Mount, orNotDir(err))
		}
	}
	v.nbd(c.NBD)
	if c.Notify.Webhook != "" && !strings.HasPrefix(c.Notify.Webhook, "http://") && !strings.HasPrefix(c.Notify.Webhook, "https://") {
		v.fail([]any{"notify", "webhook"}, "%q is not an http:// or https:// URL", c.Notify.Webhook)
	}
	if m := c.Notify.Email; m != nil {
		v.email(m)
	}
	if c.Web != nil {
		if err := c.Web.Check(v.base); err != nil {
			at := []any{"web"}
			if fe := (*web.FieldError)(nil); errors.As(err, &fe) {
				at = append(at, fe.Path...)
			}
			v.fail(at, "%s", err)
		}
		if c.Listen == "" {
			v.fail([]any{"web"}, "needs listen: (host:port) to serve on")
		}
	}
	if len(c.Jobs) == 0 {
		v.fail([]any{}, "no jobs")
	}
	seen := map[string]bool{}
	for i := range c.Jobs {
		j := &c.Jobs[i]
		if seen[j.Name] {
			v.fail([]any{"jobs", i, "name"}, "job %q is named twice", j.Name)
		}
		if j.Name == GCJob && c.GC != nil {
			v.fail([]any{"jobs", i, "name"}, "job name %q is taken by gc: (its runs are recorded as job %q)", j.Name, GCJob)
		}
		seen[j.Name] = true
		v.job(i, j)
	}
	if c.GC != nil {
		v.gc(c)
	}
}

// gc checks gc: and adds its job to c.Jobs, where the scheduler, the
// API and the metrics find it.
func (v *validator) gc(c *Config) {
	j := JobConfig{Name: GCJob, Schedule: c.GC.Schedule, TimeZone: c.GC.TimeZone, gc: true}
	var err error
	if j.loc, err = time.LoadLocation(orDefault(j.TimeZone, "Local")); err != nil {
		v.fail([]any{"gc", "time-zone"}, "%q: %v", j.TimeZone, err)
	}
	if j.Schedule == "" {
		v.fail([]any{"gc"}, "no schedule")
	} else if j.sched, err = cron.ParseStandard(j.Schedule); err != nil {
		v.fail([]any{"gc", "schedule"}, "%q: %v", j.Schedule, err)
	}
	c.Jobs = append(c.Jobs, j)
}

func orNotDir(err error) error {
	if err == nil {
		return errors.New("not a directory")
	}
	return err
}

func orEmpty(err error) error {
	if err == nil {
		return errors.New("empty")
	}
	return err
}

func (v *validator) job(i int, j *JobConfig) {
	at := func(k ...any) []any { return append([]any{"jobs", i}, k...) }
	if err := catalog.ValidName("job", j.Name); err != nil {
		v.fail(at("name"), "%v", err)
	}
	switch {
	case j.VSphere == nil && j.Images == nil:
		v.fail(at(), "job %q needs vsphere: or images:", j.Name)
	case j.VSphere != nil && j.Images != nil:
		v.fail(at("images"), "job %q has both vsphere: and images:; make two jobs", j.Name)
	case j.VSphere != nil:
		v.vsphere(at("vsphere"), j.VSphere)
	default:
		v.images(at("images"), j.Images)
	}
	var err error
	if j.loc, err = time.LoadLocation(orDefault(j.TimeZone, "Local")); err != nil {
		v.fail(at("time-zone"), "%q: %v", j.TimeZone, err)
	}
	if j.Schedule == "" {
		v.fail(at(), "job %q has no schedule", j.Name)
	} else if j.sched, err = cron.ParseStandard(j.Schedule); err != nil {
		v.fail(at("schedule"), "%q: %v", j.Schedule, err)
	}
	j.rpo = v.duration(at("rpo"), j.RPO, 0)
	j.hookTimeout = v.duration(at("hook-timeout"), j.HookTimeout, 10*time.Minute)
	if j.sample, err = parseSample(j.TestRestore); err != nil {
		v.fail(at("test-restore"), "%v", err)
	}
	if r := j.Retention; r != nil && (Retention{Lock: r.Lock, LockDays: r.LockDays}) == *r {
		v.fail(at("retention"), "no keep-* rule: every point would be forgotten")
	}
	if r := j.Retention; r != nil && r.LockDays < 0 {
		v.fail(at("retention", "lock-days"), "%d: want a positive number of days", r.LockDays)
	}
	for _, h := range []struct {
		key string
		p   *string
	}{{"pre", &j.Pre}, {"post", &j.Post}, {"copy-to", &j.CopyTo}, {"scan-rules", &j.ScanRules}} {
		if *h.p == "" {
			continue
		}
		*h.p = v.abs(*h.p)
		if _, err := os.Stat(*h.p); err != nil {
			v.fail(at(h.key), "%v", err)
		}
	}
	if j.ScanRules != "" {
		if !j.Scan {
			v.fail(at("scan-rules"), "scan-rules without scan: true")
		} else if _, err := scan.LoadRules(j.ScanRules); err != nil && !errors.Is(err, fs.ErrNotExist) {
			v.fail(at("scan-rules"), "%v", err)
		}
	}
}

func (v *validator) vsphere(at []any, s *VSphereSource) {
	if s.URL == "" {
		v.fail(at, "no url")
	} else if vsphere.URLHasPassword(s.URL) {
		v.fail(append(at, "url"), "holds a password: give it in password-file")
	}
	if s.PasswordFile == "" {
		v.fail(at, "no password-file")
		return
	}
	s.PasswordFile = v.abs(s.PasswordFile)
	if _, err := os.Stat(s.PasswordFile); err != nil {
		v.fail(append(at, "password-file"), "%v", err)
	}
	if s.Folder == "" && len(s.VMs) == 0 {
		v.fail(at, "name the VMs: folder: or vms:")
	}
}

func (v *validator) images(at []any, s *ImageSource) {
	if s.Dir == "" {
		v.fail(at, "no dir")
		return
	}
	s.Dir = v.abs(s.Dir)
	if fi, err := os.Stat(s.Dir); err != nil || !fi.IsDir() {
		v.fail(append(at, "dir"), "%q is not a directory (%v)", s.Dir, err)
	}
	s.Match = orDefault(s.Match, "*")
	if _, err := filepath.Match(s.Match, ""); err != nil {
		v.fail(append(at, "match"), "%q: %v", s.Match, err)
	}
	if s.VMFrom = orDefault(s.VMFrom, "basename"); s.VMFrom != "basename" {
		v.fail(append(at, "vm-from"), "%q: only basename is known", s.VMFrom)
	}
}

func (v *validator) duration(at []any, s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		v.fail(at, "%q is not a positive duration (e.g. 26h, 90m)", s)
	}
	return d
}

func (v *validator) abs(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(v.base, p)
}

// parseSample reads test-restore: every-point, sample N/M, off.
func parseSample(s string) (Sample, error) {
	switch s {
	case "", "off":
		return Sample{}, nil
	case "every-point":
		return Sample{1, 1}, nil
	}
	n, d, ok := strings.Cut(strings.TrimPrefix(s, "sample "), "/")
	a, err1 := strconv.Atoi(strings.TrimSpace(n))
	b, err2 := strconv.Atoi(strings.TrimSpace(d))
	if !strings.HasPrefix(s, "sample ") || !ok || err1 != nil || err2 != nil || a < 1 || b < a {
		return Sample{}, fmt.Errorf("%q: want every-point, sample N/M (1 <= N <= M) or off", s)
	}
	return Sample{a, b}, nil
}

// lineOf finds the line of the key at path (map keys and list indexes)
// and names it like jobs[0].schedule; the deepest node found counts.
func lineOf(root *yaml.Node, path []any) (int, string) {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line, name := n.Line, "top level"
	var names []string
	for _, p := range path {
		var next *yaml.Node
		switch k := p.(type) {
		case string:
			for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == k {
					line, next = n.Content[i].Line, n.Content[i+1]
				}
			}
			names = append(names, k)
		case int:
			if n.Kind == yaml.SequenceNode && k < len(n.Content) {
				next = n.Content[k]
				line = next.Line
			}
			names[len(names)-1] += fmt.Sprintf("[%d]", k)
		}
		if next == nil {
			break
		}
		n = next
	}
	if len(names) > 0 {
		name = strings.Join(names, ".")
	}
	return line, name
}

func firstLine(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(s), nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (v *validator) email(m *Email) {
	at := func(k ...string) []any {
		p := []any{"notify", "email"}
		for _, s := range k {
			p = append(p, s)
		}
		return p
	}
	if _, _, err := net.SplitHostPort(m.SMTP); err != nil {
		v.fail(at("smtp"), "%q: want host:port (%v)", m.SMTP, err)
	}
	if _, err := mail.ParseAddress(m.From); err != nil {
		v.fail(at("from"), "%q: %v", m.From, err)
	}
	if len(m.To) == 0 {
		v.fail(at(), "no to: (the addresses to mail)")
	}
	for _, to := range m.To {
		if _, err := mail.ParseAddress(to); err != nil {
			v.fail(at("to"), "%q: %v", to, err)
		}
	}
	if m.Username != "" && m.PasswordFile == "" {
		v.fail(at(), "username without password-file")
	}
	for _, f := range []struct {
		key string
		p   *string
	}{{"password-file", &m.PasswordFile}, {"ca-file", &m.CAFile}} {
		if *f.p != "" {
			*f.p = v.abs(*f.p)
			if _, err := os.Stat(*f.p); err != nil {
				v.fail(at(f.key), "%v", err)
			}
		}
	}
}
