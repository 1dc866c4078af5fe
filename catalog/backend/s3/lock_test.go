package s3_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/vmarchive/vmarchive/catalog/backend"
	"github.com/vmarchive/vmarchive/catalog/backend/s3"
	"github.com/vmarchive/vmarchive/catalog/backend/s3/s3test"
)

// retainedUntil reads an object's retention as versitygw reports it on a
// HEAD, through a plain client.
func retainedUntil(t *testing.T, c *minio.Client, bucket, key string) (string, time.Time) {
	t.Helper()
	info, err := c.StatObject(context.Background(), bucket, key, minio.StatObjectOptions{})
	if err != nil {
		t.Fatalf("stat %s: %v", key, err)
	}
	u, _ := time.Parse(time.RFC3339Nano, info.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"))
	return info.Metadata.Get("X-Amz-Object-Lock-Mode"), u
}

// TestObjectLock: on a versitygw bucket with Object Lock, LockUntil sets
// and extends an object's retention and never shortens it; the server
// then refuses its deletion and overwrite, which Delete and Replace
// report as ErrLocked (Replace of the same bytes is no error); the
// governance mode is kept per flag; a bucket without Object Lock is named.
func TestObjectLock(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	bucket := srv.LockedBucket(t)
	b := newBackend(t, srv.Config(bucket, "r"))
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CheckLocking(ctx); err != nil {
		t.Fatalf("CheckLocking on a bucket with Object Lock: %v", err)
	}
	if err := b.Put(ctx, "data/aa/obj", []byte("locked bytes")); err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	if err := b.LockUntil(ctx, "data/aa/obj", until); err != nil {
		t.Fatal(err)
	}
	mode, got := retainedUntil(t, c, bucket, "r/data/aa/obj")
	if mode != "COMPLIANCE" || !got.Equal(until) {
		t.Fatalf("retention %s %v, want COMPLIANCE %v", mode, got, until)
	}
	// Not shortened; extended.
	if err := b.LockUntil(ctx, "data/aa/obj", until.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, got = retainedUntil(t, c, bucket, "r/data/aa/obj"); !got.Equal(until) {
		t.Fatalf("an earlier LockUntil changed the retention to %v", got)
	}
	later := until.Add(time.Hour)
	if err := b.LockUntil(ctx, "data/aa/obj", later); err != nil {
		t.Fatal(err)
	}
	if _, got = retainedUntil(t, c, bucket, "r/data/aa/obj"); !got.Equal(later) {
		t.Fatalf("extended retention %v, want %v", got, later)
	}
	// The server itself refuses to shorten or delete.
	short, m := until, minio.Compliance
	if err := c.PutObjectRetention(ctx, bucket, "r/data/aa/obj", minio.PutObjectRetentionOptions{Mode: &m, RetainUntilDate: &short}); err == nil {
		t.Fatal("the server shortened a compliance retention")
	}
	if err := c.RemoveObject(ctx, bucket, "r/data/aa/obj", minio.RemoveObjectOptions{}); err == nil {
		t.Fatal("the server deleted an object under retention")
	}
	err = b.Delete(ctx, "data/aa/obj")
	if !errors.Is(err, backend.ErrLocked) || !strings.Contains(err.Error(), later.UTC().Format(time.RFC3339)) {
		t.Fatalf("Delete of a locked object: %v, want ErrLocked naming %v", err, later)
	}
	if data, err := b.Get(ctx, "data/aa/obj"); err != nil || string(data) != "locked bytes" {
		t.Fatalf("after the refused delete: %q, %v", data, err)
	}
	if err := b.Replace(ctx, "data/aa/obj", []byte("locked bytes")); err != nil {
		t.Fatalf("Replace of a locked object with its own bytes: %v", err)
	}
	if err := b.Put(ctx, "data/aa/obj", []byte("locked bytes")); err != nil {
		t.Fatalf("Put over a locked object: %v", err)
	}
	if err := b.Replace(ctx, "data/aa/obj", []byte("other bytes")); !errors.Is(err, backend.ErrLocked) {
		t.Fatalf("Replace of a locked object with other bytes: %v, want ErrLocked", err)
	}
	if err := b.LockUntil(ctx, "data/aa/missing", until); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("LockUntil of a missing object: %v", err)
	}

	gcfg := srv.Config(bucket, "g")
	gcfg.LockMode = s3.Governance
	g := newBackend(t, gcfg)
	if err := g.Put(ctx, "obj", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := g.LockUntil(ctx, "obj", until); err != nil {
		t.Fatal(err)
	}
	if mode, _ := retainedUntil(t, c, bucket, "g/obj"); mode != "GOVERNANCE" {
		t.Fatalf("mode %q with LockMode governance", mode)
	}
	if err := g.Delete(ctx, "obj"); !errors.Is(err, backend.ErrLocked) {
		t.Fatalf("Delete under governance retention: %v", err)
	}

	plain := newBackend(t, srv.Config(srv.Bucket(t), "r"))
	if err := plain.CheckLocking(ctx); !errors.Is(err, backend.ErrNoLocking) || !strings.Contains(err.Error(), "Object Lock") {
		t.Fatalf("CheckLocking on a bucket without Object Lock: %v", err)
	}
	if err := plain.Put(ctx, "obj", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := plain.LockUntil(ctx, "obj", until); !errors.Is(err, backend.ErrNoLocking) {
		t.Fatalf("LockUntil on a bucket without Object Lock: %v", err)
	}
	if data, _ := plain.Get(ctx, "obj"); !bytes.Equal(data, []byte("x")) {
		t.Fatal("object changed")
	}
}
