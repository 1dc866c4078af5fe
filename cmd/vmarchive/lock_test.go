package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/vmarchive/vmarchive/catalog/backend/s3/s3test"
	"github.com/vmarchive/vmarchive/internal/testenv"
)

// TestS3Lock: in a versitygw bucket with Object Lock, ingest --lock-days
// locks a new point's objects (the server then refuses to delete them);
// lock extends and refuses a shorter date naming the present one; forget
// refuses the point by name and keeps it under a policy; forget --lock
// locks kept points until their policy dates; gc leaves the point whole.
// A bucket without Object Lock is refused by lock and by ingest
// --lock-days before anything is stored.
func TestS3Lock(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.LockedBucket(t)
	repo := srv.URL(bucket, "r")
	env := []string{"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey,
		"AWS_EC2_METADATA_DISABLED=true", "XDG_CACHE_HOME=" + t.TempDir()}
	s3run := func(args ...string) string {
		t.Helper()
		r := run(t, repo, env, args...)
		if r.code != 0 {
			t.Fatalf("vmarchive %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
		return r.stdout
	}
	s3fail := func(want string, args ...string) {
		t.Helper()
		r := run(t, repo, env, args...)
		if r.code == 0 || !strings.Contains(r.stderr, want) {
			t.Fatalf("vmarchive %s: exit %d, want an error naming %q\n%s%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
		}
	}
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	// minRetention is the earliest retain-until date of the bucket's
	// data objects.
	minRetention := func() time.Time {
		t.Helper()
		var first time.Time
		for obj := range c.ListObjectsIter(context.Background(), bucket, minio.ListObjectsOptions{Prefix: "r/data/", Recursive: true}) {
			info, err := c.StatObject(context.Background(), bucket, obj.Key, minio.StatObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			u, _ := time.Parse(time.RFC3339Nano, info.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"))
			if first.IsZero() || u.Before(first) {
				first = u
			}
		}
		return first
	}
	s3run("init", "--chunk-size", "256KiB")
	now := time.Now().UTC()
	p1 := now.Add(-26 * time.Hour).Truncate(time.Hour).Format(time.RFC3339)
	p2 := now.Add(-time.Hour).Truncate(time.Hour).Format(time.RFC3339)
	disk := randomDisk(t, 1<<20)
	out := s3run("ingest", "--vm", "web01", "--no-index", "--point-time", p1, "--lock-days", "2", "d0="+disk)
	if !strings.Contains(out, "point web01/"+p1+" locked until") || !strings.Contains(out, "S3 Object Lock") {
		t.Fatalf("ingest --lock-days:\n%s", out)
	}
	if got := minRetention(); got.Before(now.Add(48*time.Hour - time.Minute)) {
		t.Fatalf("after ingest --lock-days 2, a chunk is retained until %v", got)
	}
	var key string
	for obj := range c.ListObjectsIter(context.Background(), bucket, minio.ListObjectsOptions{Prefix: "r/data/", Recursive: true}) {
		key = obj.Key
	}
	if err := c.RemoveObject(context.Background(), bucket, key, minio.RemoveObjectOptions{}); err == nil {
		t.Fatalf("the server deleted %s of a locked point", key)
	}

	lockDate := func(stdout string) string {
		_, rest, ok := strings.Cut(stdout, " locked until ")
		if !ok {
			t.Fatalf("no lock date in %q", stdout)
		}
		return strings.Fields(rest)[0]
	}
	date := lockDate(out)
	s3fail("is locked until "+date, "lock", "--vm", "web01", "--point", p1, "--until", now.Add(24*time.Hour).Format(time.RFC3339))
	out = s3run("lock", "--vm", "web01", "--point", p1, "--days", "3")
	if got := minRetention(); got.Before(now.Add(72*time.Hour - time.Minute)) {
		t.Fatalf("after lock --days 3, a chunk is retained until %v\n%s", got, out)
	}
	date = lockDate(out)
	s3fail(date, "forget", "--vm", "web01", "--point", p1)

	s3run("ingest", "--vm", "web01", "--no-index", "--point-time", p2, "d0="+disk)
	out = s3run("forget", "--vm", "web01", "--keep-last", "1")
	if !strings.Contains(out, "keep    "+p1+"  locked until "+date) {
		t.Fatalf("forget --keep-last 1 with the older point locked:\n%s", out)
	}
	// keep-daily 3 locks each point until the third day after its own.
	out = s3run("forget", "--vm", "web01", "--keep-daily", "3", "--tz", "UTC", "--lock")
	t2, _ := time.Parse(time.RFC3339, p2)
	want := time.Date(t2.Year(), t2.Month(), t2.Day()+3, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
	if !strings.Contains(out, "point web01/"+p2+" locked until "+want) || !strings.Contains(out, "point web01/"+p1+" locked until "+date) {
		t.Fatalf("forget --keep-daily 3 --lock: want %s locked until %s and %s still until %s:\n%s", p2, want, p1, date, out)
	}
	s3run("gc")
	got := filepath.Join(t.TempDir(), "out.raw")
	s3run("cat", "--vm", "web01", "--point", p1, "--disk", "d0", "-o", got)
	if !bytes.Equal(readFile(t, got), readFile(t, disk)) {
		t.Fatal("the locked point reads back different bytes after gc")
	}

	repo = srv.URL(srv.Bucket(t), "r")
	s3run("init", "--chunk-size", "256KiB")
	s3fail("has no S3 Object Lock", "ingest", "--vm", "web01", "--no-index", "--lock-days", "1", "d0="+disk)
	if out := s3run("points"); strings.Contains(out, "web01") {
		t.Fatalf("a refused ingest --lock-days stored a point:\n%s", out)
	}
	s3run("ingest", "--vm", "web01", "--no-index", "--point-time", p1, "d0="+disk)
	s3fail("has no S3 Object Lock", "lock", "--vm", "web01", "--point", p1, "--days", "1")
}

// TestLocalLock: a local repository records the lock and says that it
// cannot lock its files; points shows it; forget refuses the point naming
// its date; bad dates are refused.
func TestLocalLock(t *testing.T) {
	repo := newRepo(t)
	disk := randomDisk(t, 256<<10)
	out := mustRun(t, repo, "ingest", "--vm", "db", "--no-index", "--point-time", "2026-11-20T01:00:00Z", "d0="+disk)
	out = mustRun(t, repo, "lock", "--vm", "db", "--point", "latest", "--until", "2099-01-01")
	if !strings.Contains(out, "point db/2026-11-20T01:00:00Z locked until 2099-01-01T00:00:00Z") || !strings.Contains(out, "cannot lock its files") {
		t.Fatalf("lock in a local repository:\n%s", out)
	}
	if out := mustRun(t, repo, "points"); !strings.Contains(out, "LOCKED UNTIL") || !strings.Contains(out, " 2099-01-01T00:00:00Z ") {
		t.Fatalf("points does not show the lock:\n%s", out)
	}
	r := run(t, repo, nil, "forget", "--vm", "db", "--point", "2026-11-20T01:00:00Z")
	if r.code == 0 || !strings.Contains(r.stderr, "db/2026-11-20T01:00:00Z until 2099-01-01T00:00:00Z") {
		t.Fatalf("forget of a locked point: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, c := range []struct{ args, want string }{
		{"--until 2098-01-01", "is locked until 2099-01-01T00:00:00Z"},
		{"--until 2001-01-01", "has passed"},
		{"--days -1", "want a positive number"},
		{"--until soon", `--until "soon"`},
		{"--days 1 --until 2100-01-01", "not both"},
	} {
		r := run(t, repo, nil, append([]string{"lock", "--vm", "db", "--point", "latest"}, strings.Fields(c.args)...)...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Fatalf("lock %s: exit %d, want an error naming %q\n%s%s", c.args, r.code, c.want, r.stdout, r.stderr)
		}
	}
}

// TestLocalImmutable: the filesystem-level option of README.md
// (Immutability) works with a local repository: after chattr +i on the
// store's files an ingest still dedups against them, forget of a point
// whose manifest is immutable fails naming it, and gc counts the
// immutable objects it cannot delete instead of failing.
func TestLocalImmutable(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedTools(t, "chattr", "find")
	repo := newRepo(t)
	store := filepath.Join(repo, "store")
	diskA, diskB := randomDisk(t, 512<<10), randomDisk(t, 512<<10)
	mustRun(t, repo, "ingest", "--vm", "db", "--no-index", "--point-time", "2026-11-20T01:00:00Z", "d0="+diskA)
	mustRun(t, repo, "ingest", "--vm", "db", "--no-index", "--point-time", "2026-11-21T01:00:00Z", "d0="+diskB)
	t.Cleanup(func() { exec.Command("chattr", "-R", "-i", store).Run() })
	if out, err := exec.Command("find", store, "-type", "f", "!", "-name", ".tmp-*", "-exec", "chattr", "+i", "{}", "+").CombinedOutput(); err != nil {
		testenv.Missing(t, fmt.Sprintf("chattr +i on %s: %v %s", store, err, out))
	}
	mustRun(t, repo, "ingest", "--vm", "db", "--no-index", "--point-time", "2026-11-22T01:00:00Z", "d0="+diskA)
	r := run(t, repo, nil, "forget", "--vm", "db", "--point", "2026-11-21T01:00:00Z")
	if r.code == 0 || !strings.Contains(r.stderr, "chattr") {
		t.Fatalf("forget of a point with an immutable manifest: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The administrator lets that one point go.
	sh(t, "chattr", "-i", filepath.Join(store, "points", "db", "2026-11-21T01:00:00Z"))
	mustRun(t, repo, "forget", "--vm", "db", "--point", "2026-11-21T01:00:00Z")
	out := mustRun(t, repo, "gc")
	if !strings.Contains(out, "deleted 0 objects") || !strings.Contains(out, "unreferenced objects the store refuses to delete") {
		t.Fatalf("gc over immutable files:\n%s", out)
	}
	if !bytes.Equal(catDisk(t, repo, "db", "2026-11-20T01:00:00Z", "d0"), readFile(t, diskA)) {
		t.Fatal("point reads back different bytes")
	}
}

// TestS3CopyCarriesLocks: copy from a local repository whose point is
// locked into a bucket with Object Lock gives the copied point's objects
// a retention until the point's date (the server refuses to delete one);
// into a bucket without Object Lock it is refused before anything is
// stored, naming the point and --no-locks, which then copies it unlocked.
func TestS3CopyCarriesLocks(t *testing.T) {
	srv := s3test.Start(t)
	env := []string{"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey,
		"AWS_EC2_METADATA_DISABLED=true", "XDG_CACHE_HOME=" + t.TempDir()}
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	src := newRepo(t)
	disk := randomDisk(t, 1<<20)
	mustRun(t, src, "ingest", "--vm", "web01", "--no-index", "--point-time", "2026-11-20T01:00:00Z", "d0="+disk)
	until := time.Now().UTC().Add(50 * time.Hour).Truncate(time.Second)
	mustRun(t, src, "lock", "--vm", "web01", "--point", "latest", "--until", until.Format(time.RFC3339))

	bucket := srv.LockedBucket(t)
	dst := srv.URL(bucket, "r")
	if r := run(t, dst, env, "init", "--chunk-size", "256KiB"); r.code != 0 {
		t.Fatalf("init: %s", r.stderr)
	}
	r := run(t, "", env, "copy", "--from", src, "--to", dst)
	if r.code != 0 || !strings.Contains(r.stdout, "locked until "+until.Format(time.RFC3339)) {
		t.Fatalf("copy of a locked point: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	n := 0
	for obj := range c.ListObjectsIter(context.Background(), bucket, minio.ListObjectsOptions{Prefix: "r/data/", Recursive: true}) {
		info, err := c.StatObject(context.Background(), bucket, obj.Key, minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		u, _ := time.Parse(time.RFC3339Nano, info.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"))
		if u.Before(until) {
			t.Fatalf("copied chunk %s is retained until %v, want %v", obj.Key, u, until)
		}
		if n++; n == 1 {
			if err := c.RemoveObject(context.Background(), bucket, obj.Key, minio.RemoveObjectOptions{}); err == nil {
				t.Fatalf("the server deleted %s of a copied locked point", obj.Key)
			}
		}
	}
	if n == 0 {
		t.Fatal("no chunk was copied")
	}
	if r := run(t, dst, env, "forget", "--vm", "web01", "--point", "2026-11-20T01:00:00Z"); r.code == 0 || !strings.Contains(r.stderr, until.Format(time.RFC3339)) {
		t.Fatalf("forget of the copied locked point: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	dst = srv.URL(srv.Bucket(t), "r")
	if r := run(t, dst, env, "init", "--chunk-size", "256KiB"); r.code != 0 {
		t.Fatalf("init: %s", r.stderr)
	}
	r = run(t, "", env, "copy", "--from", src, "--to", dst)
	if r.code == 0 || !strings.Contains(r.stderr, "web01/2026-11-20T01:00:00Z until "+until.Format(time.RFC3339)) ||
		!strings.Contains(r.stderr, "has no S3 Object Lock") || !strings.Contains(r.stderr, "--no-locks") {
		t.Fatalf("copy of a locked point into a bucket without Object Lock: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, dst, env, "points"); strings.Contains(r.stdout, "web01") {
		t.Fatalf("a refused copy stored a point:\n%s", r.stdout)
	}
	r = run(t, "", env, "copy", "--from", src, "--to", dst, "--no-locks")
	if r.code != 0 || strings.Contains(r.stdout, "locked until") {
		t.Fatalf("copy --no-locks: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
