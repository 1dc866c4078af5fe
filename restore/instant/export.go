package instant

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/restore/nbd"
	"github.com/vmarchive/vmarchive/restore/overlay"
)

// Options describe one export.
type Options struct {
	// Overlay is the copy-on-write file taking the client's writes; empty
	// means a read-only export.
	Overlay string
	// Logf receives what went wrong with a client.
	Logf func(format string, args ...any)
	// Readahead bounds in bytes the chunks fetched ahead of a client
	// reading in order (catalog.DiskReader.SetReadahead): 0 means
	// catalog.DefaultReadahead, negative none.
	Readahead int64
}

// Export serves one disk of one point over NBD.
type Export struct {
	srv *nbd.Server
	ov  *overlay.Overlay // nil when read-only
}

// Open prepares the export of disk of point p.
func Open(ctx context.Context, repo *catalog.Repo, p *catalog.Manifest, disk string, opts Options) (*Export, error) {
	d, err := repo.OpenDisk(ctx, p, disk)
	if err != nil {
		return nil, err
	}
	if opts.Readahead != 0 {
		d.SetReadahead(opts.Readahead) // negative: none
	}
	var dev nbd.Device = &pointDisk{d: d}
	ex := &Export{}
	if opts.Overlay != "" {
		ex.ov, err = overlay.Open(opts.Overlay, dev, d.Size(), Ident(p, disk))
		if err != nil {
			return nil, err
		}
		dev = ex.ov
	}
	ex.srv = &nbd.Server{
		Export: nbd.Export{Name: disk, Description: Ident(p, disk), Size: d.Size(), Device: dev, ReadOnly: ex.ov == nil},
		Logf:   opts.Logf,
	}
	return ex, nil
}

// Ident names a point's disk in an overlay's map: vm/point/disk.
func Ident(p *catalog.Manifest, disk string) string {
	return p.VM + "/" + p.Name() + "/" + disk
}

// Serve serves clients on l until Close.
func (e *Export) Serve(l net.Listener) error {
	err := e.srv.Serve(l)
	if errors.Is(err, nbd.ErrServerClosed) {
		return nil
	}
	return err
}

// Close disconnects every client and saves the overlay.
func (e *Export) Close() error {
	e.srv.Close()
	if e.ov != nil {
		return e.ov.Close()
	}
	return nil
}

// Listen opens unix:PATH or tcp:HOST:PORT. A unix socket is made
// owner-only (chmod right after bind, before the first accept) (the export holds every byte of the guest's disk); a stale
// socket file is replaced only when nothing answers on it.
func Listen(spec string) (net.Listener, error) {
	kind, addr, ok := strings.Cut(spec, ":")
	if !ok || addr == "" || (kind != "unix" && kind != "tcp") {
		return nil, fmt.Errorf("--listen %q: want unix:PATH or tcp:HOST:PORT", spec)
	}
	if kind == "tcp" {
		return net.Listen("tcp", addr)
	}
	if c, err := net.Dial("unix", addr); err == nil {
		c.Close()
		return nil, fmt.Errorf("--listen %q: something already serves on that socket", spec)
	}
	if fi, err := os.Lstat(addr); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(addr)
	}
	l, err := net.Listen("unix", addr)
	if err != nil {
		return nil, err
	}
	// Chmod, not umask: the umask is the whole process's.
	if err := os.Chmod(addr, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// pointDisk is a point's disk as an nbd.Device and nbd.Mapper.
type pointDisk struct {
	d *catalog.DiskReader
}

func (p *pointDisk) ReadAt(b []byte, off int64) (int, error) { return p.d.ReadAt(b, off) }

// Extents reports the point's zero chunks (never stored) as zeros.
func (p *pointDisk) Extents(off, n int64, fn func(off, n int64, zero bool) error) error {
	end := off + n
	return p.d.Map().Extents(context.Background(), off, end, func(e catalog.Extent) error {
		lo, hi := max(e.Off, off), min(e.End(), end)
		return fn(lo, hi-lo, e.ID.IsZero())
	})
}

var _ nbd.Mapper = (*pointDisk)(nil)
