package catalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/vmarchive/vmarchive/catalog/backend"
	"github.com/vmarchive/vmarchive/catalog/format"
)

// quarantinePrefix holds the objects verify and check found damaged for
// good (doc.go). Nothing lists it: rebuild, gc and check list data/ only.
const quarantinePrefix = "quarantine/"

// QuarantineName is the store name a damaged object of id is moved to.
func QuarantineName(id ChunkID) string { return quarantinePrefix + id.String() }

// quarantine moves the objects of the problems damaged for good out of
// data/, so that a catalog rebuild does not list them again and the next
// ingest stores their data anew; their bytes are kept for inspection (a
// reader bug must not destroy data). Backends cannot rename: every copy is
// made durable before any original is deleted. A failure leaves the
// object where it is and is reported in its problem.
func (r *Repo) quarantine(ctx context.Context, problems []Problem) {
	var moved []int
	for i := range problems {
		pr := &problems[i]
		if !pr.lost || pr.Missing {
			continue
		}
		ok, err := r.copyDamaged(ctx, pr.ID)
		if err != nil {
			pr.QuarantineErr = err.Error()
		} else if ok {
			moved = append(moved, i)
		}
	}
	if len(moved) == 0 {
		return
	}
	if err := backend.Sync(ctx, r.be); err != nil {
		for _, i := range moved {
			problems[i].QuarantineErr = fmt.Sprintf("quarantine: %v", err)
		}
		return
	}
	for _, i := range moved {
		pr := &problems[i]
		if err := r.be.Delete(ctx, pr.ID.ObjectName()); err != nil && !errors.Is(err, backend.ErrNotFound) {
			pr.QuarantineErr = fmt.Sprintf("quarantine: copied to %s but %v", QuarantineName(pr.ID), err)
			continue
		}
		pr.Quarantined = QuarantineName(pr.ID)
	}
}

// copyDamaged copies the object of id to its quarantine name if it is
// still damaged; one that now reads whole (stored again meanwhile) or is
// gone is left alone.
func (r *Repo) copyDamaged(ctx context.Context, id ChunkID) (bool, error) {
	stored, err := r.be.Get(ctx, id.ObjectName())
	if errors.Is(err, backend.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("quarantine: %w", err)
	}
	if r.whole(id, stored) {
		return false, nil
	}
	if err := backend.Replace(ctx, r.be, QuarantineName(id), stored); err != nil {
		return false, fmt.Errorf("quarantine: %w", err)
	}
	return true, nil
}

// whole reports whether stored is an intact object of id (it is not
// modified: a damaged copy is quarantined as it is).
func (r *Repo) whole(id ChunkID, stored []byte) bool {
	enc, err := r.unseal(id.ObjectName(), stored, false)
	if err != nil {
		return false
	}
	// The decoder allows 64 MiB at most; what hashes to id is whole.
	plain, err := format.DecodeChunk(nil, enc, 64<<20)
	return err == nil && r.HashChunk(plain) == id
}
