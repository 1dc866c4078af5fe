package index

import (
	"context"
	"fmt"

	"github.com/vmarchive/vmarchive/catalog"
)

// DerivedName is the name of the index among a point's derived data.
const DerivedName = "files"

// Load returns the index of point m: the stored one, or else a new one
// built and stored. A stored index that does not decode is reported to
// warn (which may be nil) and rebuilt, never used. Only the process that
// holds the repository may call Load, as it writes the catalog.
func Load(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, warn func(error)) (*Index, error) {
	return load(ctx, repo, m, warn, nil)
}

// load is Load decoding a stored index in buf (when not nil): its columns
// and records are then valid until buf is used again.
func load(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, warn func(error), buf *decodeBuf) (*Index, error) {
	b, ok, err := repo.Derived(m.ID(), DerivedName)
	if err != nil {
		return nil, err
	}
	if ok {
		ix, err := decode(b, buf)
		if err == nil {
			err = ix.checkColumns()
		}
		if err == nil {
			return ix, nil
		}
		warnRebuild(warn, m, len(b), fmt.Errorf("file index: %w", err))
	}
	return buildAndStore(ctx, repo, m)
}

// warnRebuild tells warn (when not nil) that the stored index of m, of
// size bytes, is rebuilt for err.
func warnRebuild(warn func(error), m *catalog.Manifest, size int, err error) {
	if warn != nil {
		warn(fmt.Errorf("stored file index of %s (%d bytes): %w; building it again", m.ID(), size, err))
	}
}

func buildAndStore(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest) (*Index, error) {
	if ix := reuse(repo, m); ix != nil {
		return ix, Store(repo, m, ix)
	}
	ix, err := Build(ctx, repo, m)
	if err != nil {
		return nil, err
	}
	return ix, Store(repo, m, ix)
}

// Store keeps a freshly built index as derived data of point m. An index
// hit by store read errors is not kept, so the next Load tries again.
func Store(repo *catalog.Repo, m *catalog.Manifest, ix *Index) error {
	if ix.enc == nil {
		return fmt.Errorf("store index of %s: not freshly built", m.ID())
	}
	if ix.transient {
		return nil
	}
	return repo.PutDerived(m.ID(), DerivedName, ix.enc)
}

// Size returns the encoded size of a freshly built index, 0 otherwise.
func (ix *Index) Size() int { return len(ix.enc) }

// reuse returns the stored index of the point before m of the same VM
// when every disk of the two has the same name, size and map: the guest
// trees, and the content keys made from the maps, are then the same, so a
// re-ingest of unchanged disks walks nothing. Anything amiss gives nil.
func reuse(repo *catalog.Repo, m *catalog.Manifest) *Index {
	times, err := repo.PointTimes(m.VM)
	if err != nil {
		return nil
	}
	var prev *catalog.Manifest
	for i := len(times) - 1; i >= 0 && prev == nil; i-- {
		if times[i].Before(m.Time) {
			if prev, err = repo.PointByID(catalog.NewPointID(m.VM, times[i])); err != nil {
				return nil
			}
		}
	}
	if prev == nil || len(prev.Disks) != len(m.Disks) {
		return nil
	}
	for i, d := range m.Disks {
		p := prev.Disks[i]
		if p.Name != d.Name || p.Size != d.Size || p.Map != d.Map {
			return nil
		}
	}
	b, ok, err := repo.Derived(prev.ID(), DerivedName)
	if err != nil || !ok {
		return nil
	}
	ix, err := Decode(b)
	if err == nil {
		err = ix.checkColumns()
	}
	if err != nil {
		return nil
	}
	ix.enc = b
	return ix
}
