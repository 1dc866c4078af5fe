package vsphere

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25"
)

// Client is a logged-in connection to vCenter or ESXi.
type Client struct {
	vim    *vim25.Client
	secret string // the login password, scrubbed from errors; empty when unknown

	dataOnce sync.Once
	data     *http.Client // for datastore file transfers; see dataClient
}

// dataClient is the HTTP client for datastore files: the SOAP client's
// cookies (the session, through vCenter) and TLS setup (CA certificates,
// thumbprints), on a transport of its own that keeps a connection per
// parallel stream alive (Go's default keeps 2 per host, so more streams
// would pay a TLS handshake per request) and never asks for compression
// (disk data gains little and a host would spend CPU on it).
func (c *Client) dataClient() *http.Client {
	c.dataOnce.Do(func() {
		sc := c.vim.Client
		c.data = &sc.Client
		if t := sc.DefaultTransport(); t != nil {
			dt := t.Clone()
			dt.MaxIdleConnsPerHost = 64
			dt.DisableCompression = true
			dt.ReadBufferSize = 64 << 10
			c.data = &http.Client{Transport: dt, Jar: sc.Client.Jar}
		}
	})
	return c.data
}

// NewClient wraps a vim25 client that is already logged in (tests, or a
// caller with its own session handling).
func NewClient(vc *vim25.Client) *Client { return &Client{vim: vc} }

// Vim returns the underlying vim25 client.
func (c *Client) Vim() *vim25.Client { return c.vim }

// IsVC reports whether the endpoint is a vCenter.
func (c *Client) IsVC() bool { return c.vim.IsVC() }

// Close logs out, even when ctx is already cancelled.
func (c *Client) Close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return session.NewManager(c.vim).Logout(ctx)
}

func (c *Client) scrub(err error) error { return scrub(err, c.secret) }

// Scrub removes the login password from an error's text, for callers
// that wrap errors of their own calls on this client.
func (c *Client) Scrub(err error) error { return c.scrub(err) }
