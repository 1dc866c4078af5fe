package control

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCallRunsInHolder(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	big := bytes.Repeat([]byte("0123456789"), 2<<20) // spans several frames
	s, err := Listen(sock, func(ctx context.Context, req Request, stdout, stderr io.Writer) int {
		switch req.Op {
		case "big":
			stdout.Write(big)
			return 0
		default:
			fmt.Fprintf(stdout, "out: %s %s\n", req.Op, req.Body)
			fmt.Fprintln(stderr, "err line")
			return 3
		}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	code, err := Call(context.Background(), sock, Request{Op: "key add", Body: []byte(`{"vm":"a"}`)}, &out, &errb)
	if err != nil || code != 3 || out.String() != "out: key add {\"vm\":\"a\"}\n" || errb.String() != "err line\n" {
		t.Fatalf("code %d err %v out %q stderr %q", code, err, out.String(), errb.String())
	}
	out.Reset()
	code, err = Call(context.Background(), sock, Request{Op: "big", Body: []byte("{}")}, &out, &errb)
	if err != nil || code != 0 || !bytes.Equal(out.Bytes(), big) {
		t.Fatalf("big: code %d err %v, %d bytes", code, err, out.Len())
	}
}

func TestClientGoneCancelsCommand(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	var cancelled atomic.Bool
	started := make(chan struct{})
	s, err := Listen(sock, func(ctx context.Context, req Request, stdout, stderr io.Writer) int {
		close(started)
		<-ctx.Done()
		cancelled.Store(true)
		return 1
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	if _, err := Call(ctx, sock, Request{Op: "x", Body: []byte("{}")}, io.Discard, io.Discard); !errors.Is(err, context.Canceled) {
		t.Fatalf("Call: %v", err)
	}
	s.Close() // waits for the handler
	if !cancelled.Load() {
		t.Fatal("handler was not cancelled")
	}
}

func TestNoServer(t *testing.T) {
	_, err := Call(context.Background(), filepath.Join(t.TempDir(), "none.sock"), Request{Op: "x", Body: []byte("{}")}, io.Discard, io.Discard)
	if !errors.Is(err, ErrNoServer) {
		t.Fatalf("%v", err)
	}
}

func TestStaleSocketIsReplaced(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	s1, err := Listen(sock, func(context.Context, Request, io.Writer, io.Writer) int { return 0 }, nil)
	if err != nil {
		t.Fatal(err)
	}
	s1.ln.(interface{ SetUnlinkOnClose(bool) }).SetUnlinkOnClose(false)
	s1.Close() // leaves the socket file, as a killed holder would
	s2, err := Listen(sock, func(context.Context, Request, io.Writer, io.Writer) int { return 7 }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if code, err := Call(ctx, sock, Request{Op: "x", Body: []byte("{}")}, io.Discard, io.Discard); err != nil || code != 7 {
		t.Fatalf("%d %v", code, err)
	}
}

// TestBadRequest: a body that is not JSON is refused before the handler.
func TestBadRequest(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	s, err := Listen(sock, func(context.Context, Request, io.Writer, io.Writer) int { return 0 }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = Call(context.Background(), sock, Request{Op: "points", Body: []byte("{oops")}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Fatalf("%v", err)
	}
}
