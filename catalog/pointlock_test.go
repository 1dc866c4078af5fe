package catalog

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/vmarchive/vmarchive/catalog/backend"
	"github.com/vmarchive/vmarchive/catalog/format"
)

func lockOne(r *Repo, id PointID, until time.Time) error {
	_, err := r.LockPoints(context.Background(), []PointLock{{id, until}}, true)
	return err
}

func rfc(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

// TestPointLockLocal: in local repositories, plain and encrypted, a lock
// date is recorded; forget refuses the point naming it; a shorter date is
// refused naming the present one, a later one extends; a date that has
// passed no longer stops forget.
func TestPointLockLocal(t *testing.T) {
	for name, mk := range map[string]func(testing.TB) *Repo{
		"plain":     TestRepo,
		"encrypted": func(t testing.TB) *Repo { return TestEncryptedRepo(t, "pw-lock") },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			r := mk(t)
			a := TestWritePoint(t, r, "vm1", t0, map[string][]byte{"d0": sharedDisk(1, 3)}).ID()
			b := TestWritePoint(t, r, "vm1", t0.Add(time.Hour), map[string][]byte{"d0": sharedDisk(2, 3)}).ID()
			until := time.Now().Add(time.Hour).Truncate(time.Second)
			res, err := r.LockPoints(ctx, []PointLock{{a, until}}, true)
			if err != nil || res.Store || res.Objects != 0 {
				t.Fatalf("lock: %+v, %v", res, err)
			}
			err = r.Forget(ctx, "vm1", []time.Time{a.Time, b.Time})
			if !errors.Is(err, ErrPointLocked) || !strings.Contains(err.Error(), a.String()+" until "+rfc(until)) {
				t.Fatalf("forget of a locked point: %v", err)
			}
			if _, err := r.PointByID(b); err != nil {
				t.Fatalf("a refused forget removed the other point: %v", err)
			}
			err = lockOne(r, a, until.Add(-time.Minute))
			if err == nil || !strings.Contains(err.Error(), "locked until "+rfc(until)) {
				t.Fatalf("shorter lock: %v", err)
			}
			if err := lockOne(r, a, until); err != nil {
				t.Fatalf("the same date again: %v", err)
			}
			if err := lockOne(r, a, time.Now().Add(-time.Minute)); err == nil {
				t.Fatal("a date that has passed was accepted")
			}
			later := until.Add(24 * time.Hour)
			if err := lockOne(r, a, later); err != nil {
				t.Fatal(err)
			}
			dates, err := r.LockDates(ctx, []PointID{a, b})
			if err != nil || !dates[0].Equal(later) || !dates[1].IsZero() {
				t.Fatalf("lock dates %v, %v; want %v and none", dates, err, later)
			}
			if err := r.Forget(ctx, "vm1", []time.Time{b.Time}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.GC(ctx, GCOptions{}); err != nil {
				t.Fatal(err)
			}
			readShared(t, r, "vm1", a.Time, sharedDisk(1, 3))
			// A hold whose date has passed no longer counts.
			past := time.Now().Add(-time.Hour)
			if err := r.be.Put(ctx, r.holdName(PointLock{b, past}), nil); err != nil {
				t.Fatal(err)
			}
			c := TestWritePoint(t, r, "vm1", t0.Add(2*time.Hour), map[string][]byte{"d0": sharedDisk(3, 1)}).ID()
			if err := r.be.Put(ctx, r.holdName(PointLock{c, past}), nil); err != nil {
				t.Fatal(err)
			}
			if err := r.Forget(ctx, "vm1", []time.Time{c.Time}); err != nil {
				t.Fatalf("forget after the lock date: %v", err)
			}
		})
	}
}

// retention is an object's retain-until date as versitygw reports it.
func retention(t *testing.T, c *minio.Client, bucket, key string) time.Time {
	t.Helper()
	info, err := c.StatObject(context.Background(), bucket, key, minio.StatObjectOptions{})
	if err != nil {
		t.Fatalf("stat %s: %v", key, err)
	}
	u, _ := time.Parse(time.RFC3339Nano, info.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"))
	return u
}

// TestPointLockS3: in a versitygw bucket with Object Lock, locking a point
// gives every object it needs (manifest, hold, map blocks, chunks,
// config) a retention of at least its date; shared chunks keep the
// latest of their points' dates; extending extends; the server refuses
// to delete them and Delete says so; forget refuses the point; gc leaves
// an unreferenced object under retention and counts it. A bucket without
// Object Lock is refused before anything is recorded.
func TestPointLockS3(t *testing.T) {
	ctx := context.Background()
	sb := newSharedBucketOf(t, true)
	r := sb.host(t, time.Minute, nil)
	c, err := sb.srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	diskA := append(sharedDisk(1, 3), sharedDisk(2, 2)...)
	diskB := append(sharedDisk(1, 3), sharedDisk(3, 2)...) // shares A's first chunks
	if _, err := writeShared(ctx, r, "vm1", t0, diskA); err != nil {
		t.Fatal(err)
	}
	if _, err := writeShared(ctx, r, "vm1", t0.Add(time.Hour), diskB); err != nil {
		t.Fatal(err)
	}
	a, b := NewPointID("vm1", t0), NewPointID("vm1", t0.Add(time.Hour))
	untilA := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	res, err := r.LockPoints(ctx, []PointLock{{a, untilA}}, true)
	if err != nil {
		t.Fatal(err)
	}
	namesA, err := r.pointObjectNames(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	namesA = append(namesA, "config", r.holdName(PointLock{a, untilA}))
	if !res.Store || res.Objects != len(namesA) {
		t.Fatalf("lock result %+v, want %d objects", res, len(namesA))
	}
	for _, n := range namesA {
		if got := retention(t, c, sb.cfg.Bucket, "repo/"+n); got.Before(untilA) {
			t.Fatalf("%s retained until %v, want at least %v", n, got, untilA)
		}
	}
	chunk := namesA[len(namesA)-3] // a data object
	if !strings.HasPrefix(chunk, "data/") {
		t.Fatalf("%s is not a data object", chunk)
	}
	if err := c.RemoveObject(ctx, sb.cfg.Bucket, "repo/"+chunk, minio.RemoveObjectOptions{}); err == nil {
		t.Fatalf("the server deleted %s under retention", chunk)
	}
	if err := r.be.Delete(ctx, chunk); !errors.Is(err, backend.ErrLocked) {
		t.Fatalf("Delete of %s: %v, want ErrLocked", chunk, err)
	}
	// B, locked shorter, leaves the shared chunks at A's date.
	shared := r.HashChunk(sharedDisk(1, 3)[:r.cfg.Chunking.Avg])
	if _, err := r.LockPoints(ctx, []PointLock{{b, untilA.Add(-time.Hour)}}, true); err != nil {
		t.Fatal(err)
	}
	if got := retention(t, c, sb.cfg.Bucket, "repo/"+shared.ObjectName()); !got.Equal(untilA) {
		t.Fatalf("shared chunk retained until %v, want A's %v", got, untilA)
	}
	if err := lockOne(r, a, untilA.Add(-time.Minute)); err == nil || !strings.Contains(err.Error(), rfc(untilA)) {
		t.Fatalf("shorter lock: %v", err)
	}
	later := untilA.Add(time.Hour)
	if err := lockOne(r, a, later); err != nil {
		t.Fatal(err)
	}
	if got := retention(t, c, sb.cfg.Bucket, "repo/"+shared.ObjectName()); !got.Equal(later) {
		t.Fatalf("after extending: shared chunk retained until %v, want %v", got, later)
	}
	err = r.Forget(ctx, "vm1", []time.Time{a.Time})
	if !errors.Is(err, ErrPointLocked) || !strings.Contains(err.Error(), rfc(later)) {
		t.Fatalf("forget of a locked point: %v", err)
	}
	// An unreferenced object under retention: gc counts it, goes on.
	orphan := format.HashChunk([]byte("orphan")).ObjectName()
	if err := r.be.Put(ctx, orphan, []byte{0, 'x'}); err != nil {
		t.Fatal(err)
	}
	if err := r.be.(backend.Locker).LockUntil(ctx, orphan, later); err != nil {
		t.Fatal(err)
	}
	gres, err := r.GC(ctx, GCOptions{})
	if err != nil || gres.KeptLocked != 1 {
		t.Fatalf("gc: %+v, %v; want one object kept locked", gres, err)
	}
	readShared(t, r, "vm1", a.Time, diskA)
	readShared(t, r, "vm1", b.Time, diskB)

	plain := newSharedBucketOf(t, false)
	pr := plain.host(t, time.Minute, nil)
	if _, err := writeShared(ctx, pr, "vm1", t0, diskA); err != nil {
		t.Fatal(err)
	}
	_, err = pr.LockPoints(ctx, []PointLock{{a, untilA}}, true)
	if !errors.Is(err, backend.ErrNoLocking) || !strings.Contains(err.Error(), "Object Lock") {
		t.Fatalf("lock in a bucket without Object Lock: %v", err)
	}
	if dates, _ := pr.LockDates(ctx, []PointID{a}); !dates[0].IsZero() {
		t.Fatal("a refused lock was recorded")
	}
}

// FuzzParseHold: any store name under holds/ is read without a panic; a
// name it accepts names a manifest under points/ and a date that writes
// back to a hold naming the same manifest and date.
func FuzzParseHold(f *testing.F) {
	for _, s := range []string{"holds/web01/2026-11-20T01:00:00Z/20271231T000000Z", "holds/ab12/20271231T000000Z",
		"holds//20271231T000000Z", "holds/x/2027", "holds/20271231T000000Z", "points/x/20271231T000000Z", "holds/x/99999999T999999Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		m, until, ok := parseHold(name)
		if !ok {
			return
		}
		if !strings.HasPrefix(m, "points/") || len(m) == len("points/") {
			t.Fatalf("%q: manifest %q", name, m)
		}
		back := "holds/" + strings.TrimPrefix(m, "points/") + "/" + until.Format(holdTimeFormat)
		m2, u2, ok2 := parseHold(back)
		if !ok2 || m2 != m || !u2.Equal(until) {
			t.Fatalf("%q: read back from %q as %q %v %v", name, back, m2, u2, ok2)
		}
	})
}
