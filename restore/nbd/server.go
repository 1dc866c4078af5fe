package nbd

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Device is what an export serves: the bytes of a disk. ReadAt may be
// called from many goroutines at once.
type Device interface {
	io.ReaderAt
}

// Writer is a Device that takes writes (an export that is not read-only).
type Writer interface {
	WriteAt(p []byte, off int64) (int, error)
	// Zero makes [off, off+n) read as zeros (trim and write-zeroes).
	Zero(off, n int64) error
	// Flush makes every completed write durable.
	Flush() error
}

// Mapper is a Device that knows which ranges read as zeros without
// reading them; it answers block status (base:allocation).
type Mapper interface {
	// Extents calls fn for consecutive extents covering [off, off+n) in
	// order; zero marks an extent that reads as zeros. An error from fn
	// stops the walk and is returned.
	Extents(off, n int64, fn func(off, n int64, zero bool) error) error
}

// Export is the one disk a Server serves.
type Export struct {
	Name        string // clients may also ask for "" (the default export)
	Description string
	Size        int64
	Device      Device
	ReadOnly    bool // also read-only when Device is not a Writer
}

func (e *Export) writer() Writer {
	if w, ok := e.Device.(Writer); ok && !e.ReadOnly {
		return w
	}
	return nil
}

// Limits on what a client may make the server hold.
const (
	// MaxPayload is the largest read or write one request may carry
	// (qemu sends at most 32 MiB).
	MaxPayload = 32 << 20
	// maxInFlight bounds the bytes of requests being served at once on
	// one connection.
	maxInFlight = 64 << 20
	tokenSize   = 64 << 10
	maxOptLen   = 64 << 10 // option data; names are at most 4 KiB
	maxOptions  = 256      // options before transmission
	maxExtents  = 1024     // descriptors in one block status reply
)

// Server serves one Export to any number of clients.
type Server struct {
	Export Export
	// Logf, when set, receives what went wrong with a client or device.
	Logf func(format string, args ...any)
	// HandshakeTimeout bounds the negotiation (default 30 s).
	HandshakeTimeout time.Duration

	mu     sync.Mutex
	open   map[io.Closer]bool // listeners and connections, guarded by mu
	closed bool               // guarded by mu
	wg     sync.WaitGroup
}

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("nbd: server closed")

// Serve accepts clients on l until Close or an accept error.
func (s *Server) Serve(l net.Listener) error {
	if !s.track(l) {
		l.Close()
		return ErrServerClosed
	}
	defer s.untrack(l)
	for {
		c, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("nbd: accept: %w", err)
		}
		go s.ServeConn(c)
	}
}

// ServeConn serves one client until it disconnects, and closes c.
func (s *Server) ServeConn(c io.ReadWriteCloser) {
	defer c.Close()
	if !s.track(c) {
		return
	}
	defer s.untrack(c)
	if err := s.serve(c); err != nil {
		s.logf("nbd: client %s: %v", remote(c), err)
	}
}

// serve runs the handshake and transmission on rw.
func (s *Server) serve(rw io.ReadWriter) error {
	cn := newConn(s, rw)
	d, _ := rw.(interface{ SetDeadline(time.Time) error })
	if d != nil {
		t := s.HandshakeTimeout
		if t <= 0 {
			t = 30 * time.Second
		}
		d.SetDeadline(time.Now().Add(t))
	}
	ok, err := cn.handshake()
	if err != nil || !ok {
		return err
	}
	if d != nil {
		d.SetDeadline(time.Time{})
	}
	return cn.transmit()
}

// Close stops every listener and client and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.open {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// track registers a listener or connection for Close; false after Close.
func (s *Server) track(c io.Closer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.open == nil {
		s.open = map[io.Closer]bool{}
	}
	s.open[c] = true
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c io.Closer) {
	s.mu.Lock()
	delete(s.open, c)
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

func remote(c any) string {
	if nc, ok := c.(net.Conn); ok && nc.RemoteAddr() != nil && nc.RemoteAddr().String() != "" {
		return nc.RemoteAddr().String()
	}
	return "(unix socket)"
}
