package diff

import (
	"context"
	"fmt"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
	"github.com/vmarchive/vmarchive/index"
)

// point is one point's side of a disk comparison.
type point struct {
	m    *catalog.Manifest
	rec  *catalog.DiskRecord
	dmap *catalog.DiskMap
	disk *guestfs.Disk // opened on demand
	ix   *index.Index  // the point's file index, loaded on demand
	ixOK bool          // ix was tried
}

// index loads the point's file index once; nil when it cannot be had,
// and then the trees are walked. A stored index that is unusable (and so
// rebuilt) or cannot be had is reported to warn, naming the point.
func (p *point) index(ctx context.Context, repo *catalog.Repo, warn func(string)) *index.Index {
	if !p.ixOK {
		p.ixOK = true
		var err error
		p.ix, err = index.Load(ctx, repo, p.m, func(err error) { warn(err.Error()) })
		if err != nil && ctx.Err() == nil {
			warn(fmt.Sprintf("file index of %s unusable: %v; its trees were walked instead", p.m.ID(), err))
		}
	}
	return p.ix
}

func (p *point) size() int64 {
	if p.rec == nil {
		return 0
	}
	return p.rec.Size
}

func (p *point) open(ctx context.Context, repo *catalog.Repo) error {
	if p.rec == nil || p.disk != nil {
		return nil
	}
	r, err := repo.OpenDisk(ctx, p.m, p.rec.Name)
	if err != nil {
		return err
	}
	if p.disk, err = guestfs.OpenDisk(r, r.Size(), nil); err != nil {
		return fmt.Errorf("point %s: %w", p.m.Name(), err)
	}
	return nil
}

func (p *point) volume(name string) *guestfs.Volume {
	if p.disk == nil {
		return nil
	}
	for _, v := range p.disk.Volumes {
		if v.Name == name {
			return v
		}
	}
	return nil
}
