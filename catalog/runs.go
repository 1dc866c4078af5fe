package catalog

import (
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vmarchive/vmarchive/catalog/format"
)

// Run records are the service's history (doc.go, "Catalog keys"):
// operational data kept only in the catalog, never in the store, so a
// catalog rebuild forgets them.

// RunRecord is one stored run of a service job; Value is the service's
// own encoding.
type RunRecord struct {
	Job   string
	Start time.Time
	Value []byte
}

// PutRun stores the record of job's run started at start (replacing one
// with the same start) and drops the job's oldest records beyond keep
// (keep <= 0 keeps all), in one synced batch.
func (r *Repo) PutRun(job string, start time.Time, val []byte, keep int) error {
	if err := ValidName("job", job); err != nil {
		return err
	}
	old, err := r.Runs(job)
	if err != nil {
		return err
	}
	b := r.db.NewBatch()
	defer b.Close()
	key := format.RunKey(job, start)
	if err := b.Set(key, val, nil); err != nil {
		return fmt.Errorf("store run of job %s: %w", job, err)
	}
	n := len(old) + 1
	for _, o := range old {
		if o.Start.Equal(start) {
			n--
		}
	}
	for i := 0; keep > 0 && n > keep && i < len(old); i++ {
		if !old[i].Start.Equal(start) {
			if err := b.Delete(format.RunKey(job, old[i].Start), nil); err != nil {
				return fmt.Errorf("drop old run of job %s: %w", job, err)
			}
			n--
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("store run of job %s: %w", job, err)
	}
	return nil
}

// Runs returns the run records of job ("" for every job), by job, then
// oldest first.
func (r *Repo) Runs(job string) ([]RunRecord, error) {
	lo, hi := format.RunPrefix(job)
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer it.Close()
	var out []RunRecord
	for it.First(); it.Valid(); it.Next() {
		j, start, err := format.ParseRunKey(it.Key())
		if err != nil {
			return nil, fmt.Errorf("list runs: %w: %w", err, ErrCorrupt)
		}
		out = append(out, RunRecord{Job: j, Start: start, Value: append([]byte(nil), it.Value()...)})
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// PutState stores the service's operational state named name (doc.go,
// "Catalog keys") in a synced write; nil deletes it.
func (r *Repo) PutState(name string, val []byte) error {
	if name == "" {
		return fmt.Errorf("store service state: no name")
	}
	b := r.db.NewBatch()
	defer b.Close()
	err := b.Set(format.StateKey(name), val, nil)
	if val == nil {
		err = b.Delete(format.StateKey(name), nil)
	}
	if err == nil {
		err = b.Commit(pebble.Sync)
	}
	if err != nil {
		return fmt.Errorf("store service state %q: %w", name, err)
	}
	return nil
}

// State returns the service's operational state named name; nil when
// there is none.
func (r *Repo) State(name string) ([]byte, error) {
	v, closer, err := r.db.Get(format.StateKey(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read service state %q: %w", name, err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}
