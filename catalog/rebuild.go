package catalog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vmarchive/vmarchive/catalog/format"
)

// RebuildResult says what a catalog rebuild found in the store.
type RebuildResult struct {
	Points   int      `json:"points"`
	Chunks   int      `json:"chunks"`
	Missing  int      `json:"missing"`  // referenced objects absent from the store
	Warnings []string `json:"warnings"` // manifests that could not be used
}

// Rebuild recreates the catalog of the repository in dir from the store
// alone: the manifests under points/ and the objects they reference.
func Rebuild(ctx context.Context, dir string, opts Options) (*RebuildResult, error) {
	if err := checkLayout(dir); err != nil {
		return nil, fmt.Errorf("rebuild catalog of %s: %w", dir, err)
	}
	lock, err := lockRepo(filepath.Join(dir, lockFile), opts.Command)
	if err != nil {
		return nil, fmt.Errorf("rebuild catalog of %s: %w", dir, err)
	}
	// The lock is held from here until the new catalog is closed, so no
	// other process sees the catalog moved aside. The store is opened
	// first: a wrong password leaves the catalog where it is.
	r, err := openStore(ctx, dir, lock, opts, true)
	if err != nil {
		return nil, fmt.Errorf("rebuild catalog of %s: %w", dir, err)
	}
	defer r.Close()
	// Move the old catalog aside first so a failed rebuild never leaves a
	// half-written index that looks whole.
	cat := filepath.Join(dir, catalogDir)
	if err := os.RemoveAll(cat + ".old"); err != nil {
		return nil, err
	}
	if _, err := os.Stat(cat); err == nil {
		if err := os.Rename(cat, cat+".old"); err != nil {
			return nil, fmt.Errorf("rebuild catalog: %w", err)
		}
	}
	if err := r.openCatalog(true); err != nil {
		return nil, fmt.Errorf("rebuild catalog of %s: %w", dir, err)
	}
	res, err := r.rebuild(ctx)
	if err != nil {
		return nil, fmt.Errorf("rebuild catalog of %s: %w", dir, err)
	}
	os.RemoveAll(cat + ".old")
	return res, nil
}

func (r *Repo) rebuild(ctx context.Context) (*RebuildResult, error) {
	res := &RebuildResult{}
	sizes := map[ChunkID]int64{}
	err := r.be.List(ctx, "data/", func(name string, size int64) error {
		id, err := ParseChunkID(name[strings.LastIndex(name, "/")+1:])
		if err == nil {
			sizes[id] = size
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var manifests []string
	err = r.be.List(ctx, "points/", func(name string, size int64) error {
		manifests = append(manifests, name)
		return nil
	})
	if err != nil {
		return nil, err
	}
	b := r.db.NewBatch()
	defer b.Close()
	seen := map[ChunkID]bool{}
	ref := func(id ChunkID) {
		if id.IsZero() || seen[id] {
			return
		}
		seen[id] = true
		if size, ok := sizes[id]; ok {
			b.Set(format.ChunkKey(id), format.EncodeChunkValue(int(size)), nil)
			res.Chunks++
		} else {
			res.Missing++
		}
	}
	for _, name := range manifests {
		raw, m, err := r.getManifest(ctx, name)
		if err != nil && !blockLost(err) {
			return nil, err
		}
		if err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: %v (skipped)", name, err))
			continue
		}
		for _, c := range m.Config {
			ref(c.ID)
		}
		for i := range m.Disks {
			r.walkMap(ctx, m, &m.Disks[i], func(kind string, id ChunkID, off, _ int64, err error) {
				if err != nil {
					res.Warnings = append(res.Warnings, fmt.Sprintf("%s disk %s: %v", name, m.Disks[i].Name, err))
				}
				ref(id)
			})
		}
		b.Set(m.ID().Key(), raw, nil)
		res.Points++
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return nil, err
	}
	return res, nil
}
