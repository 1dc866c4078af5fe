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
	"sync/atomic"
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
	hostAddr string             // host[:port] to send requests to; guarded by mu
	tickets  map[string]*ticket // by datastore path; guarded by mu
	oneShot  bool               // the host refused a ticket sent before: never reuse one; guarded by mu
}

// ticket is a generic service ticket for one datastore file.
type ticket struct {
	cookie *http.Cookie
	sends  atomic.Int32 // requests that carried it
}

// ticketRenewals bounds the fresh tickets one request tries after the host
// rejects the one it was sent with.
const ticketRenewals = 3

func (c *Client) datastoreFiles(ctx context.Context, ds types.ManagedObjectReference, host *object.HostSystem, limit *limiter) (*datastoreFiles, error) {
	d := object.NewDatastore(c.vim, ds)
	if err := d.FindInventoryPath(ctx); err != nil {
		return nil, c.scrub(fmt.Errorf("datastore %s: inventory path: %w", ds.Value, err))
	}
	if !c.vim.IsVC() {
		host = nil // talking to the host already
	}
	return &datastoreFiles{c: c, ds: d, host: host, limit: limit, tickets: map[string]*ticket{}}, nil
}

// target returns the URL of a datastore file and the ticket that goes
// with it (nil through vCenter).
func (f *datastoreFiles) target(ctx context.Context, p string) (*url.URL, *ticket, error) {
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
	if t := f.tickets[p]; t != nil {
		return u, t, nil
	}
	spec := types.SessionManagerHttpServiceRequestSpec{Url: u.String(), Method: "httpGet"}
	st, err := session.NewManager(f.c.vim).AcquireGenericServiceTicket(ctx, &spec)
	if err != nil {
		return nil, nil, f.c.scrub(fmt.Errorf("service ticket for %q on host %s: %w", p, f.hostAddr, err))
	}
	if st.SslThumbprint != "" {
		f.c.vim.Client.SetThumbprint(u.Host, st.SslThumbprint)
	}
	t := &ticket{cookie: &http.Cookie{Name: "vmware_cgi_ticket", Value: st.Id}}
	if !f.oneShot {
		f.tickets[p] = t
	}
	return u, t, nil
}

// rejected drops a ticket the host refused. A refused ticket that was sent
// before means the host takes each ticket once (or they expire): from then
// on every request gets a fresh one instead of failing first. Sends, not
// successes, tell: a refusal comes back before a long transfer ends.
func (f *datastoreFiles) rejected(p string, t *ticket, reused bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if reused && !f.oneShot {
		f.oneShot = true
		clear(f.tickets)
	}
	if f.tickets[p] == t {
		delete(f.tickets, p)
	}
}

// get sends a GET for datastore file p, with a Range header when rng is not
// empty. A ticket the host rejects (401 or 403; ESXi may accept a generic
// service ticket once only) is dropped and the request sent again at once
// with a fresh one, up to ticketRenewals times.
func (f *datastoreFiles) get(ctx context.Context, p, rng string) (*http.Response, error) {
	for renewed := 0; ; renewed++ {
		u, t, err := f.target(ctx, p)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, err
		}
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		sends := int32(0)
		if t != nil {
			req.AddCookie(t.cookie)
			sends = t.sends.Add(1)
		}
		res, err := f.c.dataClient().Do(req)
		if err != nil {
			return nil, err
		}
		denied := res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden
		if t == nil || !denied {
			return res, nil
		}
		io.Copy(io.Discard, io.LimitReader(res.Body, 4096))
		res.Body.Close()
		f.rejected(p, t, sends > 1)
		if renewed == ticketRenewals {
			return nil, &errHTTP{file: f.ds.Path(p), status: res.StatusCode,
				text: fmt.Sprintf("%s: host %s rejected %d fresh service tickets", http.StatusText(res.StatusCode), u.Host, ticketRenewals)}
		}
	}
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
	return fmt.Sprintf("datastore file %q: HTTP %d %s", e.file, e.status, e.text)
}

const readAttempts = 3

// readAt fills dst from offset off of the file p. Bytes past the end of the
// file read as zeros (thin or short flat files). Transient failures are
// retried.
func (f *datastoreFiles) readAt(ctx context.Context, p string, dst []byte, off int64) error {
	if err := f.limit.Wait(ctx, len(dst)); err != nil {
		return err
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
		retry, err = f.readOnce(ctx, p, dst, off)
		if err == nil || !retry || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return f.c.scrub(fmt.Errorf("read %q bytes %d-%d: %w", f.ds.Path(p), off, off+int64(len(dst))-1, err))
	}
	return nil
}

func (f *datastoreFiles) readOnce(ctx context.Context, p string, dst []byte, off int64) (retry bool, err error) {
	res, err := f.get(ctx, p, fmt.Sprintf("bytes=%d-%d", off, off+int64(len(dst))-1))
	if err != nil {
		var he *errHTTP
		return !errors.As(err, &he), err // tickets already renewed
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
		return res.StatusCode >= 500, e
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
	res, err := f.get(ctx, p, "")
	if he := (*errHTTP)(nil); errors.As(err, &he) {
		return nil, err // names the file
	} else if err != nil {
		return nil, f.c.scrub(fmt.Errorf("download %q: %w", f.ds.Path(p), err))
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, &errHTTP{file: f.ds.Path(p), status: res.StatusCode, text: http.StatusText(res.StatusCode)}
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, max+1))
	if err != nil {
		return nil, f.c.scrub(fmt.Errorf("download %q: %w", f.ds.Path(p), err))
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("datastore file %q is larger than %d bytes, too large for what it should be", f.ds.Path(p), max)
	}
	return b, nil
}
