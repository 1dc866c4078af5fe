package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"

	"github.com/vmarchive/vmarchive/catalog/control"
)

// Client talks to a running service over its API socket.
type Client struct {
	path string
	hc   *http.Client
}

// ErrNotServing means no service answers on the socket.
var ErrNotServing = errors.New("no vmarchive serve runs for this repository")

// NewClient returns a client of the API socket at path
// (catalog.APIPath); it talks only to a server of our user or root.
func NewClient(path string) *Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", path)
		if err != nil {
			return nil, fmt.Errorf("%w (%s): %v", ErrNotServing, path, err)
		}
		if uid, err := control.PeerUID(c); err != nil || (uid != os.Geteuid() && uid != 0) {
			c.Close()
			return nil, fmt.Errorf("API socket %s is served by uid %d, neither us nor root (%v): refused", path, uid, err)
		}
		return c, nil
	}}
	return &Client{path: path, hc: &http.Client{Transport: tr}}
}

// Jobs lists the jobs.
func (c *Client) Jobs(ctx context.Context) ([]JobInfo, error) {
	var out []JobInfo
	return out, c.do(ctx, http.MethodGet, "/v1/jobs", &out)
}

// Status lists every VM's state.
func (c *Client) Status(ctx context.Context) ([]VMStatus, error) {
	var out []VMStatus
	return out, c.do(ctx, http.MethodGet, "/v1/status", &out)
}

// Runs lists the recorded runs of job ("" for all).
func (c *Client) Runs(ctx context.Context, job string) ([]*Run, error) {
	var out []*Run
	return out, c.do(ctx, http.MethodGet, "/v1/runs?job="+url.QueryEscape(job), &out)
}

// Run returns the run of job started at start.
func (c *Client) Run(ctx context.Context, job string, start string) (*Run, error) {
	var out Run
	return &out, c.do(ctx, http.MethodGet, "/v1/runs/"+url.PathEscape(job)+"/"+url.PathEscape(start), &out)
}

// Start starts a run of job now.
func (c *Client) Start(ctx context.Context, job string) (*Run, error) {
	var out Run
	return &out, c.do(ctx, http.MethodPost, "/v1/jobs/"+url.PathEscape(job)+"/run", &out)
}

func (c *Client) do(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://vmarchive"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("API %s: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e apiError
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("API %s: %s", path, resp.Status)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("API %s: %w", path, err)
	}
	return nil
}
