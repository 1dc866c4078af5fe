package catalog

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vmarchive/vmarchive/catalog/format"
)

// Latest names the newest point of a VM.
const Latest = "latest"

// Point keys order times as unsigned seconds, so a point before 1970
// (which builds before point-time checks accepted) sorts after every later
// one. Listings are therefore sorted by time, and latest looks below the
// first such key before taking one.

// Points returns the points of vm ("" for all VMs), oldest first per VM,
// VMs in name order.
func (r *Repo) Points(vm string) ([]*Manifest, error) {
	lo, hi := format.VMPrefix(vm)
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, fmt.Errorf("list points: %w", err)
	}
	defer it.Close()
	var out []*Manifest
	for it.First(); it.Valid(); it.Next() {
		m, err := decodeCatalogPoint(it.Key(), it.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	slices.SortStableFunc(out, func(a, b *Manifest) int { return a.ID().Compare(b.ID()) })
	return out, it.Error()
}

func decodeCatalogPoint(k, v []byte) (*Manifest, error) {
	id, err := format.ParsePointKeyID(k)
	if err != nil {
		return nil, err
	}
	m, err := format.DecodeManifest(v)
	if err != nil {
		return nil, fmt.Errorf("catalog point %s: %w", id, err)
	}
	if m.VM != id.VM || !m.Time.Equal(id.Time) {
		return nil, fmt.Errorf("catalog point %s holds manifest of %s: %w", id, m.ID(), ErrCorrupt)
	}
	return m, nil
}

// VMs returns the names of the VMs that have points, in name order. It
// reads keys only, skipping from one VM to the next, and is cached until
// the catalog changes (pointindex.go).
func (r *Repo) VMs() ([]string, error) {
	if vms, ok := r.db.idx.getVMs(); ok {
		return slices.Clone(vms), nil
	}
	gen := r.db.idx.now()
	vms, err := r.scanVMs()
	if err != nil {
		return nil, err
	}
	r.db.idx.putVMs(gen, slices.Clip(append([]string{}, vms...)))
	return vms, nil
}

func (r *Repo) scanVMs() ([]string, error) {
	lo, hi := format.VMPrefix("")
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, fmt.Errorf("list VMs: %w", err)
	}
	defer it.Close()
	var out []string
	for valid := it.First(); valid; {
		vm, _, err := format.ParsePointKey(it.Key())
		if err != nil {
			return nil, err
		}
		out = append(out, vm)
		_, next := format.VMPrefix(vm)
		valid = it.SeekGE(next)
	}
	return out, it.Error()
}

// PointTimes returns the times of vm's points, oldest first, reading keys
// only; cached until the catalog changes (pointindex.go).
func (r *Repo) PointTimes(vm string) ([]time.Time, error) {
	secs, ok := r.db.idx.getTimes(vm)
	if !ok {
		gen := r.db.idx.now()
		var err error
		if secs, err = r.scanPointTimes(vm); err != nil {
			return nil, err
		}
		r.db.idx.putTimes(gen, vm, secs)
	}
	if len(secs) == 0 {
		return nil, nil
	}
	out := make([]time.Time, len(secs))
	for i, s := range secs {
		out[i] = time.Unix(s, 0).UTC()
	}
	return out, nil
}

// scanPointTimes reads the seconds of vm's point keys, ascending by time.
func (r *Repo) scanPointTimes(vm string) ([]int64, error) {
	lo, hi := format.VMPrefix(vm)
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, fmt.Errorf("list points of %s: %w", vm, err)
	}
	defer it.Close()
	out := []int64{}
	for it.First(); it.Valid(); it.Next() {
		_, t, err := format.ParsePointKey(it.Key())
		if err != nil {
			return nil, err
		}
		out = append(out, t.Unix())
	}
	slices.Sort(out) // pre-1970 keys sort last (see above)
	return slices.Clip(out), it.Error()
}

// Point returns one point of vm by name (an RFC 3339 time) or "latest".
func (r *Repo) Point(vm, name string) (*Manifest, error) {
	if name == Latest || name == "" {
		return r.latest(vm)
	}
	t, err := ParsePointTime(name)
	if err != nil {
		return nil, err
	}
	return r.PointByID(NewPointID(vm, t))
}

// PointByID returns the point id.
func (r *Repo) PointByID(id PointID) (*Manifest, error) {
	v, closer, err := r.db.Get(id.Key())
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("VM %s has no point %s: %w", id.VM, id.Name(), ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read point %s: %w", id, err)
	}
	defer closer.Close()
	return decodeCatalogPoint(id.Key(), v)
}

func (r *Repo) latest(vm string) (*Manifest, error) {
	lo, hi := format.VMPrefix(vm)
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	if it.SeekLT(format.PointKeyPre1970(vm)) {
		return decodeCatalogPoint(it.Key(), it.Value())
	}
	if !it.Last() {
		if err := it.Error(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("VM %s has no points: %w", vm, ErrNotFound)
	}
	return decodeCatalogPoint(it.Key(), it.Value())
}
