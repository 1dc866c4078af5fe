package catalog

import (
	"context"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vmarchive/vmarchive/catalog/backend"
)

// CommitCopies commits, under each of ids, a copy of the committed point
// tmpl (same disks and configuration; VM, time and creation time replaced).
// It builds large catalogs for benchmarks (bench/gencatalog): manifests are
// written without a sync each and the point keys in batches, all made
// durable once at the end. The copies reference only tmpl's objects, which
// are already stored, so no chunk is checked or written.
func (r *Repo) CommitCopies(ctx context.Context, tmpl PointID, ids []PointID) error {
	base, err := r.PointByID(tmpl)
	if err != nil {
		return err
	}
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	const batchLen = 4096
	for len(ids) > 0 {
		n := min(len(ids), batchLen)
		if err := r.commitCopies(ctx, base, ids[:n]); err != nil {
			return err
		}
		ids = ids[n:]
	}
	if err := backend.Sync(ctx, r.be); err != nil {
		return fmt.Errorf("commit copies: %w", err)
	}
	// A synced empty batch makes the unsynced batches before it durable.
	batch := r.db.NewBatch()
	defer batch.Close()
	if err := batch.LogData(nil, nil); err != nil {
		return err
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("commit copies to catalog: %w", err)
	}
	return nil
}

func (r *Repo) commitCopies(ctx context.Context, base *Manifest, ids []PointID) error {
	batch := r.db.NewBatch()
	defer batch.Close()
	for _, id := range ids {
		m := *base
		m.VM, m.Time, m.Created = id.VM, id.Time, time.Now().UTC()
		if err := m.Validate(); err != nil {
			return err
		}
		if err := CheckPointTime(m.Time, time.Now()); err != nil {
			return fmt.Errorf("commit copy %s: %w", id, err)
		}
		b, err := m.Encode()
		if err != nil {
			return err
		}
		name := r.manifestName(id)
		if err := backend.Replace(ctx, r.be, name, r.seal(name, b)); err != nil {
			return fmt.Errorf("commit copy %s: %w", id, err)
		}
		batch.Set(id.Key(), b, nil)
	}
	if err := batch.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("commit copies to catalog: %w", err)
	}
	return nil
}
