package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Jobs is what the UI shows of the service: VM states, jobs, run now.
// The default reads the service's typed API in process (Options.API), so
// the UI follows the API's JSON and nothing else of package service.
type Jobs interface {
	Status(ctx context.Context) ([]VMState, error)
	Jobs(ctx context.Context) ([]JobState, error)
	Run(ctx context.Context, job string) error
}

// VMState is a VM's entry of GET /v1/status.
type VMState struct {
	VM        string    `json:"vm"`
	Job       string    `json:"job"`
	Newest    time.Time `json:"newest"`
	RPO       string    `json:"rpo"`
	LastRun   string    `json:"last_run"`
	LastError string    `json:"last_error"`
	State     string    `json:"state"` // ok, late or failed
}

// JobState is a job of GET /v1/jobs.
type JobState struct {
	Name     string    `json:"name"`
	Kind     string    `json:"kind"`
	Schedule string    `json:"schedule"`
	Next     time.Time `json:"next"`
	Running  *RunState `json:"running"`
	Last     *RunState `json:"last"`
	VMs      []VMState `json:"vms"`
}

// RunState is a run of a job.
type RunState struct {
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Result string    `json:"result"`
	Error  string    `json:"error"`
}

// apiJobs calls the API handler in process as the admin "web".
type apiJobs struct{ h http.Handler }

func (a apiJobs) call(ctx context.Context, method, path string, v any) error {
	req, err := http.NewRequestWithContext(WithPrincipal(ctx, &Principal{Name: "web", Role: RoleAdmin}), method, path, nil)
	if err != nil {
		return err
	}
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	a.h.ServeHTTP(rec, req)
	if rec.code >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(rec.body.Bytes(), &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("%s %s: %d", method, path, rec.code)
		}
		return &apiError{code: rec.code, msg: e.Error}
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(rec.body.Bytes(), v); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

func (a apiJobs) Status(ctx context.Context) ([]VMState, error) {
	var out []VMState
	return out, a.call(ctx, "GET", "/v1/status", &out)
}

func (a apiJobs) Jobs(ctx context.Context) ([]JobState, error) {
	var out []JobState
	return out, a.call(ctx, "GET", "/v1/jobs", &out)
}

func (a apiJobs) Run(ctx context.Context, job string) error {
	return a.call(ctx, "POST", "/v1/jobs/"+url.PathEscape(job)+"/run", nil)
}

// apiError is an error answer of the API.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return e.msg }

// recorder is the in-process answer of the API.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(p []byte) (int, error) { return r.body.Write(p) }
func (r *recorder) WriteHeader(code int)        { r.code = code }
