// Package control lets the one process that holds a repository serve the
// commands of others. pebble is opened by one process only (design.md), so
// while a mount, a long ingest or `vmarchive serve` holds the repository,
// another vmarchive command sends it a typed request (package service/api)
// over a unix socket in the repository, and the holder runs it against the
// catalog it already has open, streaming stdout and stderr back.
//
// Only the holder's own user (and root) is served. The socket lives in an
// owner-only (0700) directory, created before the socket, so no other
// user can connect whatever the umask; and every connection's peer uid is
// checked (SO_PEERCRED) in case the directory was opened up by hand: a
// refused peer gets 403 and its request body is never read. Clients check
// the server the same way before sending anything.
//
// Protocol: HTTP/1.1 on the socket.
//
//	POST /v1/run/{op}   body: the operation's JSON request (op words joined
//	                    by "/", e.g. key/add)
//
// answers 200 with a body of frames kind(1 byte) length(uint32 BE) data:
// kindStdout, kindStderr, and a final kindExit whose 4 data bytes are the
// exit status; or 4xx with a JSON {"error": "..."}. Closing the connection
// cancels the operation.
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
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

const (
	kindStdout = 1
	kindStderr = 2
	kindExit   = 3
)

// maxFrame bounds one frame and a request body, and so what a hostile
// peer can make us allocate.
const maxFrame = 8 << 20

// Request is one typed operation for the holder: its name and its JSON
// body (a request type of package service/api).
type Request struct {
	Op   string          // e.g. "points", "key add"
	Body json.RawMessage // the request; it may carry secrets: never log it
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
	srv     *http.Server
	cancel  context.CancelFunc
	done    chan struct{} // closed when Serve returns
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
	s := &Server{ln: ln, path: path, handler: handler, uid: os.Geteuid(), logger: logger, cancel: cancel, done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/run/{op...}", s.run)
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ConnContext:       func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(s.done)
		s.srv.Serve(ln)
	}()
	return s, nil
}

type connKey struct{}

// Close stops accepting and waits for running requests to finish.
func (s *Server) Close() error {
	err := s.srv.Shutdown(context.Background())
	<-s.done
	s.cancel()
	return err
}

// Stop stops accepting and cancels running requests, then waits for them.
func (s *Server) Stop() {
	s.cancel()
	s.srv.Shutdown(context.Background())
	<-s.done
}

// run serves one request: peer check, body, handler, framed output.
func (s *Server) run(w http.ResponseWriter, r *http.Request) {
	c, _ := r.Context().Value(connKey{}).(net.Conn)
	if !s.allowed(w, c) {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxFrame+1))
	if err == nil && len(body) > maxFrame {
		err = fmt.Errorf("request of more than %d bytes", maxFrame)
	}
	if err == nil && !json.Valid(body) {
		err = errors.New("request body is not JSON")
	}
	if err != nil {
		httpError(w, http.StatusBadRequest, "control: bad request: "+err.Error())
		return
	}
	req := Request{Op: strings.ReplaceAll(r.PathValue("op"), "/", " "), Body: body}
	w.Header().Set("Content-Type", "application/vnd.vmarchive.frames")
	w.WriteHeader(http.StatusOK)
	var mu sync.Mutex // frames from stdout and stderr must not interleave
	fw := &flushWriter{w: w, rc: http.NewResponseController(w)}
	out := &frameWriter{w: fw, kind: kindStdout, mu: &mu}
	errw := &frameWriter{w: fw, kind: kindStderr, mu: &mu}
	bout := bufio.NewWriterSize(out, 1<<20)
	code := s.handler(r.Context(), req, bout, errw)
	bout.Flush()
	mu.Lock()
	writeExit(fw, code)
	mu.Unlock()
}

// flushWriter sends each frame at once: output such as progress must
// not wait in the response's buffer.
type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f *flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.rc.Flush()
	}
	return n, err
}

// apiError is the body of a 4xx answer.
type apiError struct {
	Error string `json:"error"`
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(apiError{msg})
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
		buf := make([]byte, 5+k)
		buf[0] = f.kind
		binary.BigEndian.PutUint32(buf[1:], uint32(k))
		copy(buf[5:], p[:k])
		if _, err := f.w.Write(buf); err != nil {
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
// stderr. It returns the operation's exit status. Cancelling ctx closes the
// connection, which cancels the operation in the holder.
func Call(ctx context.Context, path string, req Request, stdout, stderr io.Writer) (int, error) {
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", path)
		if err != nil {
			return nil, fmt.Errorf("%w (%s): %v", ErrNoServer, path, err)
		}
		if err := checkServer(c, path); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}}
	defer tr.CloseIdleConnections()
	u := "http://holder/v1/run/" + url.PathEscape(strings.ReplaceAll(req.Op, " ", "/"))
	u = strings.ReplaceAll(u, "%2F", "/")
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(string(req.Body)))
	if err != nil {
		return 0, fmt.Errorf("control: %w", err)
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: tr}).Do(hr)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e apiError
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return 0, errors.New(e.Error)
		}
		return 0, fmt.Errorf("control: %s", resp.Status)
	}
	return readFrames(ctx, bufio.NewReaderSize(resp.Body, 1<<20), stdout, stderr)
}

// readFrames copies output frames until the exit frame.
func readFrames(ctx context.Context, r io.Reader, stdout, stderr io.Writer) (int, error) {
	var hdr [5]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
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
				if ctx.Err() != nil {
					return 0, ctx.Err()
				}
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
