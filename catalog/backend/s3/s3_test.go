package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/vmarchive/vmarchive/catalog/backend"
	"github.com/vmarchive/vmarchive/catalog/backend/backendtest"
	"github.com/vmarchive/vmarchive/catalog/backend/s3"
	"github.com/vmarchive/vmarchive/catalog/backend/s3/s3test"
)

func newBackend(t *testing.T, cfg s3.Config) *s3.Backend {
	t.Helper()
	b, err := s3.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSuite runs the shared backend suite on versitygw, each subtest under
// its own prefix, with conditional writes and without.
func TestSuite(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	var n atomic.Int32
	for _, noCond := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoConditionalWrites=%v", noCond), func(t *testing.T) {
			backendtest.Run(t, func(t *testing.T) backend.Backend {
				cfg := srv.Config(bucket, fmt.Sprintf("t%d/repo", n.Add(1)))
				cfg.NoConditionalWrites = noCond
				return newBackend(t, cfg)
			})
		})
	}
	t.Run("NoPrefix", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backend.Backend {
			return newBackend(t, srv.Config(srv.Bucket(t), ""))
		})
	})
	t.Run("ObjectLockBucket", func(t *testing.T) { // objects without retention behave as anywhere
		backendtest.Run(t, func(t *testing.T) backend.Backend {
			return newBackend(t, srv.Config(srv.LockedBucket(t), "r"))
		})
	})
}

// TestConditionalPut shows versitygw honours If-None-Match: * (the first
// object stays) and that turning it off overwrites.
func TestConditionalPut(t *testing.T) {
	srv := s3test.Start(t)
	px := newProxy(t, srv)
	ctx := context.Background()
	for _, noCond := range []bool{false, true} {
		cfg := srv.Config(srv.Bucket(t), "")
		cfg.Endpoint, cfg.NoConditionalWrites = px.url, noCond
		b := newBackend(t, cfg)
		px.ResetLog()
		for _, data := range []string{"first", "second"} {
			if err := b.Put(ctx, "keys/k", []byte(data)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := b.Get(ctx, "keys/k")
		want := map[bool]string{false: "first", true: "second"}[noCond]
		if err != nil || string(got) != want {
			t.Fatalf("NoConditionalWrites=%v: got %q, %v; want %q", noCond, got, err, want)
		}
		sent := 0
		for _, h := range px.Headers() {
			if h.Get("If-None-Match") == "*" {
				sent++
			}
		}
		if wantSent := map[bool]int{false: 2, true: 0}[noCond]; sent != wantSent {
			t.Fatalf("NoConditionalWrites=%v: %d requests with If-None-Match: *, want %d", noCond, sent, wantSent)
		}
	}
}

// faultCfg is a backend through the proxy with quick retries.
func faultCfg(srv *s3test.Server, px *proxy, bucket string) s3.Config {
	cfg := srv.Config(bucket, "repo")
	cfg.Endpoint = px.url
	cfg.Attempts, cfg.RetryBase, cfg.RetryMax, cfg.Timeout = 4, 10*time.Millisecond, 50*time.Millisecond, 750*time.Millisecond
	return cfg
}

// TestFaultsAreRetried: each fault, twice in a row on each operation,
// is retried until the operation succeeds with the right result.
func TestFaultsAreRetried(t *testing.T) {
	srv := s3test.Start(t)
	px := newProxy(t, srv)
	px.SetStall(1500 * time.Millisecond) // beyond the attempt timeout
	ctx := context.Background()
	b := newBackend(t, faultCfg(srv, px, srv.Bucket(t)))
	data := bytes.Repeat([]byte("0123456789abcdef"), 40000)
	ops := map[string]func(name string) error{
		"PUT": func(name string) error {
			if err := b.Replace(ctx, name, data); err != nil {
				return err
			}
			got, err := b.Get(ctx, name) // what the server kept
			if err == nil && !bytes.Equal(got, data) {
				return fmt.Errorf("stored %d bytes that differ from the %d put", len(got), len(data))
			}
			return err
		},
		"GET": func(name string) error {
			got, err := b.Get(ctx, name)
			if err == nil && !bytes.Equal(got, data) {
				return fmt.Errorf("got %d bytes, want %d", len(got), len(data))
			}
			return err
		},
		"LIST": func(name string) error {
			found := false
			err := b.List(ctx, "data/", func(n string, size int64) error {
				found = found || (n == name && size == int64(len(data)))
				return nil
			})
			if err == nil && !found {
				return fmt.Errorf("%s not listed", name)
			}
			return err
		},
		"DELETE": func(name string) error { return b.Delete(ctx, name) },
	}
	faults := []fault{drop, stall, slowDown, internal, truncate, shorten, chunkedShort, flip}
	for i, f := range faults {
		for _, op := range []string{"PUT", "GET", "LIST", "DELETE"} {
			if (f == truncate || f == shorten || f == chunkedShort || f == stall) && op != "GET" ||
				f == flip && op != "GET" && op != "PUT" {
				continue // they damage bodies; one op shows a stall times out
			}
			name := fmt.Sprintf("data/%02d/%s", i, op)
			if op != "PUT" {
				px.set("", pass)
				if err := b.Replace(ctx, name, data); err != nil {
					t.Fatal(err)
				}
			}
			method := map[string]string{"PUT": "PUT", "GET": "GET", "LIST": "GET", "DELETE": ""}[op]
			px.set(method, pass, f, f)
			if err := ops[op](name); err != nil {
				t.Errorf("%s with %s twice: %v", op, faultNames[f], err)
			}
			if n := px.faults(); n != 2 {
				t.Errorf("%s with %s: %d faults injected, want 2", op, faultNames[f], n)
			}
		}
	}
	// A whole body without Content-Length is good at once.
	px.set("GET", chunked)
	if err := ops["GET"]("data/00/GET"); err != nil || px.faults() != 1 {
		t.Errorf("GET of a chunked body: %v after %d requests, want success at once", err, px.faults())
	}
}

// TestFaultsExhaustRetries: a fault that never ends gives a clear error
// naming the object and the attempts, and never data.
func TestFaultsExhaustRetries(t *testing.T) {
	srv := s3test.Start(t)
	px := newProxy(t, srv)
	ctx := context.Background()
	b := newBackend(t, faultCfg(srv, px, srv.Bucket(t)))
	if err := b.Put(ctx, "data/ab/obj", []byte("some object bytes")); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[fault]string{
		slowDown: "SlowDown", internal: "InternalError: We encountered an internal error. Please try again. (HTTP 500)", drop: "Connection closed",
		truncate: "unexpected EOF", shorten: "damaged in transit", flip: "CRC32C differs",
	} {
		px.set("GET", f)
		got, err := b.Get(ctx, "data/ab/obj")
		if err == nil || got != nil {
			t.Fatalf("%s forever: got %q, %v; want an error", faultNames[f], got, err)
		}
		msg := err.Error()
		for _, w := range []string{"s3 get s3://", "/repo/data/ab/obj", want, "gave up after 4 attempts"} {
			if !strings.Contains(msg, w) {
				t.Errorf("%s forever: error %q does not say %q", faultNames[f], msg, w)
			}
		}
		if errors.Is(err, backend.ErrNotFound) {
			t.Errorf("%s forever: error is ErrNotFound", faultNames[f])
		}
		// Go's transport itself retries a GET once on a connection closed
		// before any answer.
		if n := px.faults(); n < 4 || n > 4 && f != drop || n > 8 {
			t.Errorf("%s forever: %d requests, want 4 attempts", faultNames[f], n)
		}
	}
}

// TestContextCancel: a stalled request ends when its context does.
func TestContextCancel(t *testing.T) {
	srv := s3test.Start(t)
	px := newProxy(t, srv)
	px.SetStall(time.Minute)
	cfg := faultCfg(srv, px, srv.Bucket(t))
	cfg.Timeout = time.Minute
	b := newBackend(t, cfg)
	px.set("", stall)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	done := make(chan error, 1)
	go func() { _, err := b.Get(ctx, "data/00/x"); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Get after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Get did not end after its context was cancelled")
	}
}

// TestConnectionLimit: no more requests in flight than Connections.
func TestConnectionLimit(t *testing.T) {
	srv := s3test.Start(t)
	px := newProxy(t, srv)
	cfg := faultCfg(srv, px, srv.Bucket(t))
	cfg.Connections = 2
	b := newBackend(t, cfg)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.Put(context.Background(), fmt.Sprintf("data/00/%d", i), make([]byte, 100000)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := px.MaxInFlight(); n > 2 || n < 1 {
		t.Fatalf("%d requests in flight at once, want 1-2", n)
	}
}

// TestRateLimit: requests start no faster than Rate allows. Only a lower
// bound on time is checked, which load cannot break.
func TestRateLimit(t *testing.T) {
	srv := s3test.Start(t)
	px := newProxy(t, srv)
	cfg := faultCfg(srv, px, srv.Bucket(t))
	cfg.Rate, cfg.Burst = 20, 1
	b := newBackend(t, cfg)
	px.ResetLog()
	for i := range 6 {
		if err := b.Put(context.Background(), fmt.Sprintf("data/00/%d", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	started := px.Started()
	if n := len(started); n != 6 {
		t.Fatalf("%d requests, want 6", n)
	}
	if d := started[5].Sub(started[0]); d < 225*time.Millisecond {
		t.Fatalf("6 requests at 20/s with burst 1 took %v, want at least 250ms", d)
	}
}

// TestOlderObjectsChecked: an object an earlier version stored with its
// SHA-256 as metadata (not a CRC32C) is still checked by Get.
func TestOlderObjectsChecked(t *testing.T) {
	srv := s3test.Start(t)
	px := newProxy(t, srv)
	bucket := srv.Bucket(t)
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := []byte("an object stored by an earlier version")
	sum := sha256.Sum256(data)
	if _, err := c.PutObject(ctx, bucket, "repo/data/aa/old", bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{UserMetadata: map[string]string{"Vmarchive-Sha256": hex.EncodeToString(sum[:])}}); err != nil {
		t.Fatal(err)
	}
	b := newBackend(t, faultCfg(srv, px, bucket))
	if got, err := b.Get(ctx, "data/aa/old"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %q, %v", got, err)
	}
	px.set("GET", flip)
	if got, err := b.Get(ctx, "data/aa/old"); err == nil || !strings.Contains(err.Error(), "SHA-256 differs") {
		t.Fatalf("Get of a damaged body: %q, %v; want SHA-256 differs", got, err)
	}
}
