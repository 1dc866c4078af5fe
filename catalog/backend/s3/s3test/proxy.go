package s3test

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
)

// Fault is what the proxy does to one request.
type Fault int

const (
	Pass         Fault = iota
	Drop               // close the connection without answering
	Stall              // answer after the stall time, or never if the client gives up first
	SlowDown           // 503 SlowDown
	Internal           // 500 InternalError
	Truncate           // forward, but cut the body after half and break the connection
	Shorten            // forward, but send half the body with a matching Content-Length
	Chunked            // forward, the body chunked (no Content-Length)
	ChunkedShort       // forward, half the body chunked (a clean end)
	Flip               // forward, one byte of the body flipped: a PUT's on the way up, a GET's on the way back
)

// FaultNames name the faults in test output.
var FaultNames = map[Fault]string{Pass: "pass", Drop: "drop", Stall: "stall", SlowDown: "503 SlowDown",
	Internal: "500 InternalError", Truncate: "truncated body", Shorten: "short body",
	Chunked: "chunked body", ChunkedShort: "short chunked body", Flip: "flipped byte"}

// Proxy is an HTTP proxy in front of an S3 server that injects faults and
// counts requests: the next requests (of a method, "" for any) get a
// plan's faults in order, then always one fault, which may be Pass.
type Proxy struct {
	URL      string // http://127.0.0.1:PORT of the proxy
	upstream string // host:port
	tr       *http.Transport

	mu       sync.Mutex
	stallFor time.Duration  // guarded by mu
	method   string         // guarded by mu
	plan     []Fault        // guarded by mu
	always   Fault          // guarded by mu
	faulted  int            // requests that got a fault; guarded by mu
	inFlight int            // guarded by mu
	maxIn    int            // most requests in flight at once; guarded by mu
	headers  []http.Header  // request headers seen since ResetLog; guarded by mu
	started  []time.Time    // when requests arrived since ResetLog; guarded by mu
	requests map[string]int // requests by method since ResetLog; guarded by mu
	gets     map[string]int // GETs by the first path component after the bucket's; guarded by mu
}

// NewProxy starts a proxy in front of srv on a port of the tests' range,
// stopped when the test ends. It stalls for 3 s unless told otherwise.
func NewProxy(t testing.TB, srv *Server) *Proxy {
	t.Helper()
	p := &Proxy{upstream: strings.TrimPrefix(srv.Endpoint, "http://"), stallFor: 3 * time.Second,
		tr: &http.Transport{}, requests: map[string]int{}, gets: map[string]int{}}
	l := Listen(t)
	hs := &http.Server{Handler: p}
	go hs.Serve(l)
	t.Cleanup(func() { hs.Close(); p.tr.CloseIdleConnections() })
	p.URL = "http://" + l.Addr().String()
	return p
}

// Listen listens on a free loopback port of the tests' range.
func Listen(t testing.TB) net.Listener {
	first, last := portRange()
	for port := first; port <= last; port++ {
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			return l
		}
	}
	t.Fatal("no free port in range")
	return nil
}

// SetStall sets how long a stalled request waits before it is answered.
func (p *Proxy) SetStall(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stallFor = d
}

// Set plans faults for the next requests of method ("" any).
func (p *Proxy) Set(method string, always Fault, plan ...Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.method, p.always, p.plan, p.faulted = method, always, plan, 0
}

// Faults is how many requests got a fault since the last Set.
func (p *Proxy) Faults() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faulted
}

// ResetLog forgets the headers, start times and counts seen so far.
func (p *Proxy) ResetLog() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.headers, p.started, p.requests, p.gets = nil, nil, map[string]int{}, map[string]int{}
}

// Headers are the request headers seen since ResetLog.
func (p *Proxy) Headers() []http.Header {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]http.Header(nil), p.headers...)
}

// Started are the arrival times of the requests since ResetLog.
func (p *Proxy) Started() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.started...)
}

// Requests counts the requests of method ("" any) since ResetLog.
func (p *Proxy) Requests(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if method != "" {
		return p.requests[method]
	}
	n := 0
	for _, c := range p.requests {
		n += c
	}
	return n
}

// MaxInFlight is the most requests the proxy had in flight at once.
func (p *Proxy) MaxInFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maxIn
}

func (p *Proxy) next(r *http.Request) (Fault, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.headers = append(p.headers, r.Header.Clone())
	p.started = append(p.started, time.Now())
	p.requests[r.Method]++
	if r.Method == http.MethodGet {
		p.gets[objectDir(r.URL.Path)]++
	}
	p.inFlight++
	p.maxIn = max(p.maxIn, p.inFlight)
	if p.method != "" && r.Method != p.method {
		return Pass, 0
	}
	f := p.always
	if len(p.plan) > 0 {
		f, p.plan = p.plan[0], p.plan[1:]
	}
	if f != Pass {
		p.faulted++
	}
	return f, p.stallFor
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, stallFor := p.next(r)
	defer func() { p.mu.Lock(); p.inFlight--; p.mu.Unlock() }()
	switch f {
	case Drop:
		io.Copy(io.Discard, r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	case Stall:
		select {
		case <-time.After(stallFor):
		case <-r.Context().Done():
			return
		}
	case SlowDown:
		s3Error(w, 503, "SlowDown", "Please reduce your request rate.")
		return
	case Internal:
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
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, f Fault) {
	body, _ := io.ReadAll(r.Body)
	if f == Flip && r.Method == http.MethodPut && len(body) > 0 {
		body[len(body)/2] ^= 0x20
	}
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
	damaged := r.Method == http.MethodGet && len(data) > 1
	if f == Flip && damaged {
		data[len(data)/2] ^= 0x20
	}
	switch {
	case (f == Chunked || f == ChunkedShort) && damaged:
		if f == ChunkedShort {
			data = data[:len(data)/2]
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(resp.StatusCode)
		w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush() // now the length cannot be known: chunked
		w.Write(data[len(data)/2:])
	case (f == Truncate || f == Shorten) && damaged:
		if f == Shorten {
			data = data[:len(data)/2]
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(resp.StatusCode)
		if f == Truncate {
			w.Write(data[:len(data)/2])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // breaks the connection mid-body
		}
		w.Write(data)
	default:
		w.WriteHeader(resp.StatusCode)
		w.Write(data)
	}
}

// Gets counts the GET requests since ResetLog of objects under dir (the
// first component after the bucket and prefix, such as "data" or
// "points"), of every bucket.
func (p *Proxy) Gets(dir string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gets[dir]
}

// objectDir is the first of "data", "points", "keys", "locks" in a path
// (bucket/prefix/data/ab/abcd...), else "".
func objectDir(path string) string {
	for _, part := range strings.Split(path, "/") {
		switch part {
		case "data", "points", "keys", "locks":
			return part
		}
	}
	return ""
}
