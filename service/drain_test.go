package service

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestDrainWaitsForRequests: stopping a server cancels the requests going
// on and returns only once their handlers have (http.Server.Close alone
// returns at once, and a handler would then meet a closed repository).
func TestDrainWaitsForRequests(t *testing.T) {
	s := &Service{log: slog.Default()}
	s.reqCtx, s.reqCancel = context.WithCancel(context.Background())
	var finished atomic.Bool
	entered := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done()               // cancelled by drain
		time.Sleep(300 * time.Millisecond) // a handler that takes a while to notice
		finished.Store(true)
	})}
	s.track(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	go http.Get("http://" + ln.Addr().String() + "/")
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the request never reached the handler")
	}
	start := time.Now()
	s.drain(srv)
	if !finished.Load() {
		t.Fatal("drain returned while a handler was still running")
	}
	if el := time.Since(start); el > drainGrace {
		t.Fatalf("drain took %v: the request was not cancelled", el)
	}
}
