// Package control lets the one process that holds a repository serve the
// commands of others. pebble is opened by one process only (design.md), so
// while a mount or a long ingest holds the repository, another vmarchive
// command sends its command line over a unix socket in the repository and
// the holder runs it against the catalog it already has open, streaming
// stdout and stderr back.
//
// Only the holder's own user (and root) is served. The socket lives in an
// owner-only (0700) directory, created before the socket, so no other
// user can connect whatever the umask; and every connection's peer uid is
// checked (SO_PEERCRED) in case the directory was opened up by hand.
// Clients check the server the same way before sending anything.
//
// Protocol: the client writes one JSON Request and then nothing; closing
// its side cancels the command. The server answers with frames of
// kind(1 byte) length(uint32 BE) data: kindStdout, kindStderr, and a final
// kindExit whose 4 data bytes are the exit status.
package control

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

const (
	kindStdout = 1
	kindStderr = 2
	kindExit   = 3
)

// maxFrame bounds one frame, and so what a hostile peer can make us allocate.
const maxFrame = 8 << 20

// Request is a command line to run in the holder.
type Request struct {
	Args []string `json:"args"` // without the program name; paths already absolute
	// Secret is what the command needs that must never be on a command
	// line (vSphere credentials). It goes only over this socket, which
	// only its owner can open, and is not logged.
	Secret []byte `json:"secret,omitempty"`
}

// Handler runs one request, writing to stdout and stderr, and returns the
// exit status. ctx is cancelled when the client goes away.
type Handler func(ctx context.Context, req Request, stdout, stderr io.Writer) int

// Server accepts requests on a socket until Close.
type Server struct {
	ln      net.Listener
	path    string
	handler Handler
	uid     int         // the only non-root user served
	logger  *log.Logger // refusals; nil discards them
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup // one per connection
}

// Listen serves handler on a unix socket at path, replacing a stale socket
// left by a killed holder (the caller holds the repository lock, so no
// live server can own it). The socket's directory is made owner-only
// first. Refused connections are logged to logger (nil discards).
func Listen(path string, handler Handler, logger *log.Logger) (*Server, error) {
	if err := privateDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket %s: remove stale socket: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{ln: ln, path: path, handler: handler, uid: os.Geteuid(), logger: logger, ctx: ctx, cancel: cancel}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
		}()
	}
}

// Close stops accepting and waits for running requests to finish.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.wg.Wait()
	s.cancel()
	return err
}

// Stop stops accepting and cancels running requests, then waits for them.
func (s *Server) Stop() {
	s.ln.Close()
	s.cancel()
	s.wg.Wait()
}

func (s *Server) serve(c net.Conn) {
	defer c.Close()
	if !s.allowed(c) {
		return
	}
	var req Request
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := json.NewDecoder(io.LimitReader(c, maxFrame)).Decode(&req); err != nil {
		w := &frameWriter{w: c, kind: kindStderr}
		fmt.Fprintf(w, "control: bad request: %v\n", err)
		writeExit(c, 2)
		return
	}
	c.SetReadDeadline(time.Time{})
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	go func() {
		// The client sends nothing more; EOF or an error means it is gone.
		io.Copy(io.Discard, c)
		cancel()
	}()
	var mu sync.Mutex // frames from stdout and stderr must not interleave
	out := &frameWriter{w: c, kind: kindStdout, mu: &mu}
	errw := &frameWriter{w: c, kind: kindStderr, mu: &mu}
	bout := bufio.NewWriterSize(out, 1<<20)
	code := s.handler(ctx, req, bout, errw)
	bout.Flush()
	mu.Lock()
	writeExit(c, code)
	mu.Unlock()
}

type frameWriter struct {
	w    io.Writer
	kind byte
	mu   *sync.Mutex
}

func (f *frameWriter) Write(p []byte) (int, error) {
	if f.mu != nil {
		f.mu.Lock()
		defer f.mu.Unlock()
	}
	n := 0
	for len(p) > 0 {
		k := min(len(p), maxFrame)
		var hdr [5]byte
		hdr[0] = f.kind
		binary.BigEndian.PutUint32(hdr[1:], uint32(k))
		if _, err := f.w.Write(hdr[:]); err != nil {
			return n, err
		}
		if _, err := f.w.Write(p[:k]); err != nil {
			return n, err
		}
		n += k
		p = p[k:]
	}
	return n, nil
}

func writeExit(w io.Writer, code int) {
	var b [9]byte
	b[0] = kindExit
	binary.BigEndian.PutUint32(b[1:], 4)
	binary.BigEndian.PutUint32(b[5:], uint32(code))
	w.Write(b[:])
}

// ErrNoServer means no process serves the socket.
var ErrNoServer = errors.New("no process serves the repository's control socket")

// Call sends req to the server at path and copies its output to stdout and
// stderr. It returns the command's exit status. Cancelling ctx closes the
// connection, which cancels the command in the holder.
func Call(ctx context.Context, path string, req Request, stdout, stderr io.Writer) (int, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return 0, fmt.Errorf("%w (%s): %v", ErrNoServer, path, err)
	}
	defer c.Close()
	if err := checkServer(c, path); err != nil {
		return 0, err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	// A holder that refuses us answers without reading, so our write can
	// fail while its answer waits to be read.
	sendErr := json.NewEncoder(c).Encode(req)
	r := bufio.NewReaderSize(c, 1<<20)
	var hdr [5]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			if sendErr != nil {
				return 0, fmt.Errorf("control: send request: %w", sendErr)
			}
			return 0, fmt.Errorf("control: the holding process closed the connection before the command finished: %w", err)
		}
		n := binary.BigEndian.Uint32(hdr[1:])
		if n > maxFrame {
			return 0, fmt.Errorf("control: frame of %d bytes exceeds %d", n, maxFrame)
		}
		switch hdr[0] {
		case kindStdout, kindStderr:
			w := stdout
			if hdr[0] == kindStderr {
				w = stderr
			}
			if _, err := io.CopyN(w, r, int64(n)); err != nil {
				return 0, fmt.Errorf("control: copy output: %w", err)
			}
		case kindExit:
			var b [4]byte
			if n != 4 {
				return 0, fmt.Errorf("control: exit frame of %d bytes", n)
			}
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return 0, fmt.Errorf("control: read exit status: %w", err)
			}
			return int(binary.BigEndian.Uint32(b[:])), nil
		default:
			return 0, fmt.Errorf("control: unknown frame kind %d", hdr[0])
		}
	}
}
