package vsphere

import (
	"context"
	"time"

	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25"
)

// Client is a logged-in connection to vCenter or ESXi.
type Client struct {
	vim    *vim25.Client
	secret string // the login password, scrubbed from errors; empty when unknown
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
