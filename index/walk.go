package index

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
)

// Source is a disk image a point is being made of.
type Source interface {
	io.ReaderAt
	Size() int64
}

// Pending is the index of a point still being made: its guest trees are
// walked in the background, from the images, while their chunks are
// stored; Finish adds the content keys once the point's maps exist.
type Pending struct {
	ctx    context.Context // the walk's and the prebuild's
	cancel context.CancelFunc
	done   chan struct{}
	disks  map[string]*walkedDisk
	bounds map[string]*DiskBounds // StartBounds

	pre *prebuilt // set by Prebuild
}

// prebuilt is an index built by Prebuild.
type prebuilt struct {
	id   catalog.PointID
	done chan struct{} // closed when ix and err are set
	ix   *Index
	err  error
}

// walkedDisk is one disk's guest trees, walked without content keys.
type walkedDisk struct {
	size int64
	vols []*buildVolume
	err  error
}

// Start walks the guest trees of sources (by disk name) in the background.
// The caller keeps the sources open and unchanged until Finish returns.
func Start(ctx context.Context, sources map[string]Source) *Pending {
	return start(ctx, sources, nil)
}

// StartBounds is Start that also hands out each disk's file boundaries
// (guestfs.FileBoundaries with minSize, align and maxCuts) as the walk
// finds them (Boundaries): an ingest cuts its chunks at them, and the
// guest is walked once for both.
func StartBounds(ctx context.Context, sources map[string]Source, minSize, align int64, maxCuts int) *Pending {
	return start(ctx, sources, &boundsOpts{minSize: minSize, align: align, maxCuts: maxCuts})
}

func start(ctx context.Context, sources map[string]Source, bo *boundsOpts) *Pending {
	ctx, cancel := context.WithCancel(ctx)
	p := &Pending{ctx: ctx, cancel: cancel, done: make(chan struct{}), disks: map[string]*walkedDisk{}, bounds: map[string]*DiskBounds{}}
	names := slices.Sorted(maps.Keys(sources))
	opts := map[string]*boundsOpts{}
	for _, name := range names {
		p.disks[name] = &walkedDisk{size: sources[name].Size()}
		if bo != nil {
			o := *bo
			o.got = make(chan *guestfs.Boundaries, 1)
			opts[name] = &o
			p.bounds[name] = &DiskBounds{got: o.got}
		}
	}
	go func() {
		defer close(p.done)
		for _, name := range names {
			d := p.disks[name]
			d.vols, d.err = walkDisk(ctx, sources[name], d.size, name, opts[name])
		}
	}()
	return p
}

// Boundaries returns the file boundaries of disk that StartBounds's walk
// hands out (an ingest.BoundarySource), or nil.
func (p *Pending) Boundaries(disk string) *DiskBounds {
	return p.bounds[disk]
}

// DiskBounds hands out the file boundaries of one disk as the walk of
// StartBounds finds them.
type DiskBounds struct {
	got chan *guestfs.Boundaries
	mu  sync.Mutex
	b   *guestfs.Boundaries // once got
}

func (d *DiskBounds) get(ctx context.Context) (*guestfs.Boundaries, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.b == nil {
		select {
		case d.b = <-d.got:
		case <-ctx.Done():
			return nil, fmt.Errorf("file boundaries: %w", ctx.Err())
		}
	}
	return d.b, nil
}

// Next returns the sorted boundaries in [from, to), waiting for the walk
// of the volumes with data there (guestfs.Boundaries.Next).
func (d *DiskBounds) Next(ctx context.Context, from int64) ([]int64, int64, error) {
	b, err := d.get(ctx)
	if err != nil {
		return nil, 0, err
	}
	return b.Next(ctx, from)
}

// Problems returns how many errors the walk went past where it looked
// for boundaries, and the first of them.
func (d *DiskBounds) Problems() (int, error) {
	d.mu.Lock()
	b := d.b
	d.mu.Unlock()
	if b == nil {
		return 0, nil
	}
	return b.Problems()
}

// Prebuild starts building the index of m in the background, as Finish
// would with unchanged sources, while m, whose chunks and maps are stored,
// is being committed (ingest.Options.Committing): the commit mostly waits
// for the disk. Finish then stores what it built. Call it at most once,
// before Finish.
func (p *Pending) Prebuild(repo *catalog.Repo, m *catalog.Manifest) {
	pre := &prebuilt{id: m.ID(), done: make(chan struct{})}
	p.pre = pre
	go func() {
		defer close(pre.done)
		select {
		case <-p.done:
		case <-p.ctx.Done():
			pre.err = p.ctx.Err()
			return
		}
		if pre.ix = reuse(repo, m); pre.ix == nil {
			pre.ix, pre.err = build(p.ctx, repo, m, p.disks)
		}
	}()
}

// Finish makes and stores the index of m, the point made of the sources
// given to Start, as Load would: a stored index or the one of the point
// before with the same maps is taken as it is; otherwise the walked trees
// get their content keys from m's maps, and a disk not walked (or of
// another size) is walked in the store. With unchanged false the sources
// changed while the point was made, and every disk is walked in the store.
func (p *Pending) Finish(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, unchanged bool, warn func(error)) (*Index, error) {
	if _, ok, err := repo.Derived(m.ID(), DerivedName); err != nil || ok || !unchanged {
		p.Cancel()
		return Load(ctx, repo, m, warn)
	}
	if pre := p.pre; pre != nil && pre.id == m.ID() {
		select {
		case <-pre.done:
		case <-ctx.Done():
			p.Cancel()
			return nil, ctx.Err()
		}
		if pre.err != nil {
			return nil, pre.err
		}
		return pre.ix, Store(repo, m, pre.ix)
	}
	if ix := reuse(repo, m); ix != nil {
		p.Cancel()
		return ix, Store(repo, m, ix)
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.Cancel()
		return nil, ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ix, err := build(ctx, repo, m, p.disks)
	if err != nil {
		return nil, err
	}
	return ix, Store(repo, m, ix)
}

// Cancel stops the walk and a prebuild and waits for them: the sources
// and the repository may be closed after.
func (p *Pending) Cancel() {
	p.cancel()
	<-p.done
	if p.pre != nil {
		<-p.pre.done
	}
}
