package s3_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog/backend/s3/s3test"
)

// fault is what the proxy does to one request.
type fault int

const (
	pass         fault = iota
	drop               // close the connection without answering
	stall              // answer after the proxy's stall time
	slowDown           // 503 SlowDown
	internal           // 500 InternalError
	truncate           // forward, but cut the body after half and break the connection
	shorten            // forward, but send half the body with a matching Content-Length
	chunked            // forward, the body chunked (no Content-Length)
	chunkedShort       // forward, half the body chunked (a clean end)
)

var faultNames = map[fault]string{pass: "pass", drop: "drop", stall: "stall", slowDown: "503 SlowDown",
	internal: "500 InternalError", truncate: "truncated body", shorten: "short body",
	chunked: "chunked body", chunkedShort: "short chunked body"}

// proxy is an HTTP proxy in front of the S3 server that injects faults:
// the next requests (of method, "" for any) get plan's faults in order,
// then always, if set, forever.
type proxy struct {
	upstream string // host:port
	url      string // http://host:port of the proxy
	stallFor time.Duration

	mu       sync.Mutex
	method   string
	plan     []fault
	always   fault
	faulted  int // requests that got a fault
	inFlight int
	maxIn    int             // most requests in flight at once
	headers  []http.Header   // request headers seen
	started  []time.Time     // when requests arrived
	tr       *http.Transport // to the upstream
}

func newProxy(t *testing.T, srv *s3test.Server) *proxy {
	p := &proxy{upstream: strings.TrimPrefix(srv.Endpoint, "http://"), stallFor: 3 * time.Second, tr: &http.Transport{}}
	l := listenInRange(t)
	hs := &http.Server{Handler: p}
	go hs.Serve(l)
	t.Cleanup(func() { hs.Close(); p.tr.CloseIdleConnections() })
	p.url = "http://" + l.Addr().String()
	return p
}

// listenInRange listens on a free loopback port of the tests' range.
func listenInRange(t *testing.T) net.Listener {
	for port := s3test.FirstPort; port <= s3test.LastPort; port++ {
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			return l
		}
	}
	t.Fatal("no free port in range")
	return nil
}

// set plans faults for the next requests of method ("" any).
func (p *proxy) set(method string, always fault, plan ...fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.method, p.always, p.plan, p.faulted = method, always, plan, 0
}

func (p *proxy) faults() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faulted
}

func (p *proxy) next(r *http.Request) fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.headers = append(p.headers, r.Header.Clone())
	p.started = append(p.started, time.Now())
	p.inFlight++
	p.maxIn = max(p.maxIn, p.inFlight)
	if p.method != "" && r.Method != p.method {
		return pass
	}
	f := p.always
	if len(p.plan) > 0 {
		f, p.plan = p.plan[0], p.plan[1:]
	}
	if f != pass {
		p.faulted++
	}
	return f
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := p.next(r)
	defer func() { p.mu.Lock(); p.inFlight--; p.mu.Unlock() }()
	switch f {
	case drop:
		io.Copy(io.Discard, r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	case stall:
		select {
		case <-time.After(p.stallFor):
		case <-r.Context().Done():
			return
		}
	case slowDown:
		s3Error(w, 503, "SlowDown", "Please reduce your request rate.")
		return
	case internal:
		s3Error(w, 500, "InternalError", "We encountered an internal error. Please try again.")
		return
	}
	p.forward(w, r, f)
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
}

// forward sends r upstream unchanged (the Host header too: it is signed)
// and passes the answer back, damaged as f says.
func (p *proxy) forward(w http.ResponseWriter, r *http.Request, f fault) {
	body, _ := io.ReadAll(r.Body)
	out, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+p.upstream+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), 502)
		return
	}
	out.Header = r.Header.Clone()
	out.Host = r.Host
	out.ContentLength = r.ContentLength
	resp, err := p.tr.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), 502)
		return
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	if (f == chunked || f == chunkedShort) && r.Method == http.MethodGet && len(data) > 1 {
		if f == chunkedShort {
			data = data[:len(data)/2]
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(resp.StatusCode)
		w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush() // now the length cannot be known: chunked
		w.Write(data[len(data)/2:])
		return
	}
	if (f == truncate || f == shorten) && r.Method == http.MethodGet && len(data) > 1 {
		if f == shorten {
			data = data[:len(data)/2]
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(resp.StatusCode)
		if f == truncate {
			w.Write(data[:len(data)/2])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // breaks the connection mid-body
		}
		w.Write(data)
		return
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(data)
}
