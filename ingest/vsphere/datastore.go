package vsphere

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25/types"
)

// datastoreFiles reads files of one datastore over the HTTP /folder
// endpoint, through vCenter or straight from an ESXi host with a generic
// service ticket. Safe for concurrent use.
type datastoreFiles struct {
	c     *Client
	ds    *object.Datastore  // InventoryPath and DatacenterPath filled in
	host  *object.HostSystem // nil: through the endpoint we are logged in to
	limit *limiter           // nil: no bandwidth limit

	mu       sync.Mutex
	hostAddr string                  // host[:port] to send requests to; guarded by mu
	tickets  map[string]*http.Cookie // by datastore path; guarded by mu
}

func (c *Client) datastoreFiles(ctx context.Context, ds types.ManagedObjectReference, host *object.HostSystem, limit *limiter) (*datastoreFiles, error) {
	d := object.NewDatastore(c.vim, ds)
	if err := d.FindInventoryPath(ctx); err != nil {
		return nil, c.scrub(fmt.Errorf("datastore %s: inventory path: %w", ds.Value, err))
	}
	if !c.vim.IsVC() {
		host = nil // talking to the host already
	}
	return &datastoreFiles{c: c, ds: d, host: host, limit: limit, tickets: map[string]*http.Cookie{}}, nil
}

// target returns the URL of a datastore file and the ticket cookie that
// goes with it (nil through vCenter). fresh forces a new ticket.
func (f *datastoreFiles) target(ctx context.Context, p string, fresh bool) (*url.URL, *http.Cookie, error) {
	u := f.ds.NewURL(p)
	if f.host == nil {
		return u, nil, nil
	}
	q := u.Query()
	q.Del("dcPath") // the vCenter datacenter path means nothing to the host
	u.RawQuery = q.Encode()

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hostAddr == "" {
		addr, err := f.resolveHost(ctx)
		if err != nil {
			return nil, nil, err
		}
		f.hostAddr = addr
	}
	u.Host = f.hostAddr
	if c := f.tickets[p]; c != nil && !fresh {
		return u, c, nil
	}
	spec := types.SessionManagerHttpServiceRequestSpec{Url: u.String(), Method: "httpGet"}
	t, err := session.NewManager(f.c.vim).AcquireGenericServiceTicket(ctx, &spec)
	if err != nil {
		return nil, nil, f.c.scrub(fmt.Errorf("service ticket for %s on host %s: %w", p, f.hostAddr, err))
	}
	if t.SslThumbprint != "" {
		f.c.vim.Client.SetThumbprint(u.Host, t.SslThumbprint)
	}
	c := &http.Cookie{Name: "vmware_cgi_ticket", Value: t.Id}
	f.tickets[p] = c
	return u, c, nil
}

// resolveHost picks the address of the ESXi host: the name in a service
// ticket when it resolves, else its management IP, else its inventory name.
func (f *datastoreFiles) resolveHost(ctx context.Context) (string, error) {
	spec := types.SessionManagerHttpServiceRequestSpec{Url: f.ds.NewURL("").String(), Method: "httpGet"}
	if t, err := session.NewManager(f.c.vim).AcquireGenericServiceTicket(ctx, &spec); err == nil && t.HostName != "" && t.HostName != "localhost.localdomain" {
		h := t.HostName
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
		if _, err := net.DefaultResolver.LookupHost(ctx, h); err == nil {
			return t.HostName, nil
		}
	}
	ips, err := f.host.ManagementIPs(ctx)
	if err != nil {
		return "", f.c.scrub(fmt.Errorf("host %s: management address: %w", f.host.Reference().Value, err))
	}
	if len(ips) > 0 {
		return ips[0].String(), nil
	}
	name, err := f.host.ObjectName(ctx)
	if err != nil {
		return "", f.c.scrub(fmt.Errorf("host %s: name: %w", f.host.Reference().Value, err))
	}
	return name, nil
}

// errHTTP is an unexpected HTTP status from the datastore.
type errHTTP struct {
	file   string
	status int
	text   string
}

func (e *errHTTP) Error() string {
	return fmt.Sprintf("datastore file %s: HTTP %d %s", e.file, e.status, e.text)
}

const readAttempts = 3

// readAt fills dst from offset off of the file p. Bytes past the end of the
// file read as zeros (thin or short flat files). Transient failures are
// retried; a rejected ticket is renewed once per attempt.
func (f *datastoreFiles) readAt(ctx context.Context, p string, dst []byte, off int64) error {
	if f.limit != nil {
		if err := f.limit.wait(ctx, len(dst)); err != nil {
			return err
		}
	}
	var err error
	for attempt := 0; attempt < readAttempts; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt) * 250 * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		var retry bool
		retry, err = f.readOnce(ctx, p, dst, off, attempt > 0)
		if err == nil || !retry || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return f.c.scrub(fmt.Errorf("read %s bytes %d-%d: %w", f.ds.Path(p), off, off+int64(len(dst))-1, err))
	}
	return nil
}

func (f *datastoreFiles) readOnce(ctx context.Context, p string, dst []byte, off int64, fresh bool) (retry bool, err error) {
	u, ticket, err := f.target(ctx, p, fresh)
	if err != nil {
		return true, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+int64(len(dst))-1))
	if ticket != nil {
		req.AddCookie(ticket)
	}
	res, err := f.c.dataClient().Do(req)
	if err != nil {
		return true, err
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusPartialContent:
	case http.StatusOK:
		if off != 0 {
			return false, fmt.Errorf("server ignored the Range header (HTTP 200 for offset %d)", off)
		}
	case http.StatusRequestedRangeNotSatisfiable:
		clear(dst) // entirely past the end of a short file
		return false, nil
	default:
		io.Copy(io.Discard, io.LimitReader(res.Body, 4096))
		e := &errHTTP{file: f.ds.Path(p), status: res.StatusCode, text: http.StatusText(res.StatusCode)}
		transient := res.StatusCode >= 500 || res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden
		return transient, e
	}
	n, err := io.ReadFull(res.Body, dst)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		if res.ContentLength >= 0 && int64(n) < res.ContentLength {
			return true, fmt.Errorf("connection closed after %d of %d bytes", n, res.ContentLength)
		}
		clear(dst[n:]) // the file ends here
		return false, nil
	}
	return err != nil, err
}

// readFile returns a whole small file (a descriptor, .vmx or .nvram),
// refusing one longer than max.
func (f *datastoreFiles) readFile(ctx context.Context, p string, max int64) ([]byte, error) {
	u, ticket, err := f.target(ctx, p, false)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if ticket != nil {
		req.AddCookie(ticket)
	}
	res, err := f.c.dataClient().Do(req)
	if err != nil {
		return nil, f.c.scrub(fmt.Errorf("download %s: %w", f.ds.Path(p), err))
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, &errHTTP{file: f.ds.Path(p), status: res.StatusCode, text: http.StatusText(res.StatusCode)}
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, max+1))
	if err != nil {
		return nil, f.c.scrub(fmt.Errorf("download %s: %w", f.ds.Path(p), err))
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("datastore file %s is larger than %d bytes, too large for what it should be", f.ds.Path(p), max)
	}
	return b, nil
}
