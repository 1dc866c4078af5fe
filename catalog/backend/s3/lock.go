package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/vmarchive/vmarchive/catalog/backend"
)

// # Object Lock
//
// LockUntil reads an object's retention from a HEAD's
// x-amz-object-lock-mode and -retain-until-date headers, which AWS and
// versitygw both send, rather than GET ?retention: minio-go cannot parse
// versitygw's answer to that (its root element is ObjectLockRetention,
// not Retention). It sends PUT ?retention only when the retention ends
// before until, keeping the object's mode if it has one (compliance is
// never turned into governance), else Config.LockMode. On a versioned
// bucket (AWS requires versioning for Object Lock) both act on the
// current version, which is the one reads get.

var _ backend.Locker = (*Backend)(nil)

// Lock modes (Config.LockMode).
const (
	Compliance = "compliance"
	Governance = "governance"
)

func (b *Backend) lockMode() (minio.RetentionMode, error) {
	switch strings.ToLower(b.cfg.LockMode) {
	case "", Compliance:
		return minio.Compliance, nil
	case Governance:
		return minio.Governance, nil
	}
	return "", fmt.Errorf("s3 lock mode %q: want compliance or governance", b.cfg.LockMode)
}

// CheckLocking implements backend.Locker: the bucket must have Object
// Lock enabled.
func (b *Backend) CheckLocking(ctx context.Context) error {
	if _, err := b.lockMode(); err != nil {
		return err
	}
	var enabled string
	err := b.do(ctx, "object lock configuration of "+b.cfg.Bucket, func(ctx context.Context) (err error) {
		enabled, _, _, _, err = b.client.GetObjectLockConfig(ctx, b.cfg.Bucket)
		return err
	})
	if minio.ToErrorResponse(err).Code == "ObjectLockConfigurationNotFoundError" || err == nil && enabled != "Enabled" {
		return fmt.Errorf("bucket %q at %s has no S3 Object Lock (it can only be enabled when a bucket is created: aws s3api create-bucket --object-lock-enabled-for-bucket, mc mb --with-lock): %w", b.cfg.Bucket, b.cfg.Endpoint, backend.ErrNoLocking)
	}
	if err != nil {
		return fmt.Errorf("%s: read the bucket's object lock configuration: %s", b.cfg, describe(err))
	}
	return nil
}

// retention is an object's Object Lock retention as a HEAD shows it.
type retention struct {
	mode  minio.RetentionMode // "" when the object has none
	until time.Time
}

func retentionOf(h http.Header) retention {
	r := retention{mode: minio.RetentionMode(strings.ToUpper(h.Get("X-Amz-Object-Lock-Mode")))}
	if t, err := time.Parse(time.RFC3339Nano, h.Get("X-Amz-Object-Lock-Retain-Until-Date")); err == nil {
		r.until = t
	}
	return r
}

// LockUntil implements backend.Locker.
func (b *Backend) LockUntil(ctx context.Context, name string, until time.Time) error {
	mode, err := b.lockMode()
	if err != nil {
		return err
	}
	key, err := b.key(name)
	if err != nil {
		return err
	}
	// S3 keeps whole seconds: round up, never below until.
	until = until.UTC().Add(time.Second - 1).Truncate(time.Second)
	err = b.do(ctx, "lock "+key, func(ctx context.Context) error {
		info, err := b.client.StatObject(ctx, b.cfg.Bucket, key, minio.StatObjectOptions{})
		if err != nil {
			return err
		}
		cur := retentionOf(info.Metadata)
		if !cur.until.Before(until) {
			return nil
		}
		m := mode
		if cur.mode.IsValid() {
			m = cur.mode
		}
		return b.client.PutObjectRetention(ctx, b.cfg.Bucket, key, minio.PutObjectRetentionOptions{Mode: &m, RetainUntilDate: &until})
	})
	switch {
	case err == nil:
		return nil
	case isNotFound(err):
		return fmt.Errorf("lock s3://%s/%s: %w", b.cfg.Bucket, key, backend.ErrNotFound)
	case minio.ToErrorResponse(err).Code == "InvalidRequest" && strings.Contains(strings.ToLower(minio.ToErrorResponse(err).Message), "object lock"):
		return fmt.Errorf("lock s3://%s/%s: %s: %w", b.cfg.Bucket, key, describe(err), backend.ErrNoLocking)
	}
	return b.fail("lock", key, err)
}

// lockedError is the error of a delete or overwrite the object's
// retention forbids (checked by a HEAD, or refused by the server).
func (b *Backend) lockedError(op, key string, r retention) error {
	return fmt.Errorf("%s s3://%s/%s: %w until %s (%s mode)", op, b.cfg.Bucket, key, backend.ErrLocked,
		r.until.UTC().Format(time.RFC3339), strings.ToLower(string(r.mode)))
}

// locked reports whether r keeps its object now.
func (r retention) locked(now time.Time) bool { return r.mode != "" && r.until.After(now) }

// errLockedNow stops a delete whose HEAD found the object under retention.
var errLockedNow = errors.New("under retention")
