package s3

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
)

// errDamaged marks a response that arrived whole by HTTP's account but
// not by the object's own: short, or with another SHA-256 than stored.
var errDamaged = errors.New("response body damaged in transit")

// do runs op, one attempt at a time within the request limits, until it
// succeeds, fails for good, or b.cfg.Attempts are spent. Each attempt has
// its own timeout; ctx ends the whole.
func (b *Backend) do(ctx context.Context, what string, op func(ctx context.Context) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = b.attempt(ctx, op)
		if err == nil || !retryable(ctx, err) {
			return err
		}
		if attempt >= b.cfg.Attempts {
			return &gaveUp{err, attempt}
		}
		d := b.backoff(attempt)
		if b.cfg.Logf != nil {
			b.cfg.Logf("s3: %s: %v; retrying in %v", what, describe(err), d.Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (while waiting to retry after: %v)", ctx.Err(), describe(err))
		case <-time.After(d):
		}
	}
}

// attempt runs op once, holding a connection slot and a rate token.
func (b *Backend) attempt(ctx context.Context, op func(ctx context.Context) error) error {
	select {
	case b.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-b.slots }()
	if b.rate != nil {
		if err := b.rate.Wait(ctx); err != nil {
			return err
		}
	}
	actx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	return op(actx)
}

// backoff is exponential with full jitter, as AWS recommends.
func (b *Backend) backoff(attempt int) time.Duration {
	d := b.cfg.RetryBase << min(attempt-1, 30)
	if d <= 0 || d > b.cfg.RetryMax {
		d = b.cfg.RetryMax
	}
	return d/2 + rand.N(d/2+1)
}

// retryable says whether err may pass on a new attempt: server errors,
// throttling, timeouts of one attempt, broken connections, damaged bodies
// (either way).
// Refusals (403, 404, 400) and certificate problems do not.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && (resp.StatusCode != 0 || resp.Code != "") {
		switch resp.Code {
		case "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable",
			"ConditionalRequestConflict", "RequestTimeTooSkewed", "OperationAborted",
			"BadDigest", "XAmzContentSHA256Mismatch": // a body damaged on the way
			return true
		}
		return resp.StatusCode >= 500 || resp.StatusCode == 429
	}
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var cerr *tls.CertificateVerificationError
	if errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &cerr) {
		return false
	}
	var nerr net.Error
	var urlErr *url.Error
	return errors.Is(err, errDamaged) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.As(err, &nerr) || errors.As(err, &urlErr)
}

// gaveUp is the last error of an operation whose attempts ran out.
type gaveUp struct {
	err      error
	attempts int
}

func (e *gaveUp) Error() string { return describe(e) }
func (e *gaveUp) Unwrap() error { return e.err }

// describe names an S3 error by code and status besides its message, which
// some servers leave empty.
func describe(err error) string {
	if g, ok := err.(*gaveUp); ok {
		return fmt.Sprintf("%s (gave up after %d attempts)", describe(g.err), g.attempts)
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && resp.Code != "" {
		msg := resp.Message
		if msg == "" {
			msg = "(no message)"
		}
		return fmt.Sprintf("%s: %s (HTTP %d)", resp.Code, msg, resp.StatusCode)
	}
	return err.Error()
}
