package timeline

import (
	"context"
	"fmt"
	"slices"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/index"
)

// Options choose what Run covers.
type Options struct {
	Disks []string       // only these disks; all when empty
	Path  *index.Pattern // only paths it matches (either name of a rename); all when nil
	Warn  func(error)    // non-fatal problems; may be nil
}

// volKey names a volume across points.
type volKey struct{ disk, name string }

// volAt is a volume's index at a point.
type volAt struct {
	m *catalog.Manifest
	v *index.Volume
}

// run is one Run call.
type run struct {
	ctx  context.Context
	repo *catalog.Repo
	opts Options
	emit func(*Event) error
	// Filesystems opened to compare file versions, of the last two points.
	fss        map[fsKey]openFS
	bufA, bufB []byte
}

// Run hands the timeline of points (oldest first) to emit, event by event
// (doc.go). It loads each point's file index, building and keeping the
// missing ones. An error from emit ends the run and is returned.
func Run(ctx context.Context, repo *catalog.Repo, points []*catalog.Manifest, opts Options, emit func(*Event) error) error {
	r := &run{ctx: ctx, repo: repo, opts: opts, emit: emit, fss: map[fsKey]openFS{}, bufA: make([]byte, 256<<10), bufB: make([]byte, 256<<10)}
	last := map[volKey]volAt{}
	var order []volKey // of last, as first met
	for _, m := range points {
		ix, err := index.Load(ctx, repo, m, opts.Warn)
		if err != nil {
			return fmt.Errorf("timeline: file index of %s: %w", m.ID(), err)
		}
		if ix.Version() < 2 {
			r.warn(fmt.Errorf("file index of %s predates access times (format %d): atime 0 in its file events", m.Name(), ix.Version()))
		}
		seen := map[volKey]bool{}
		for _, v := range ix.Volumes {
			k := volKey{v.Disk, v.Name}
			if !r.wantDisk(v.Disk) || v.NoFS || v.Name == "" && v.Err == "" {
				continue
			}
			seen[k] = true
			if v.Err != "" {
				r.warn(fmt.Errorf("%s in point %s not read: %s; compared with the next point that has it", guestPath(v, "/"), m.Name(), v.Err))
				continue
			}
			before, ok := last[k]
			if ok {
				err = r.pair(before, m, v)
			} else {
				err = r.first(m, v)
				order = append(order, k)
			}
			if err != nil {
				return err
			}
			last[k] = volAt{m, v}
		}
		if order, err = r.gone(last, order, seen, m); err != nil {
			return err
		}
		r.forget(m.ID())
	}
	return nil
}

// gone reports the files of volumes no longer in m (a disk or partition
// removed) as deleted, and forgets those volumes.
func (r *run) gone(last map[volKey]volAt, order []volKey, seen map[volKey]bool, m *catalog.Manifest) ([]volKey, error) {
	var keep []volKey
	for _, k := range order {
		if seen[k] {
			keep = append(keep, k)
			continue
		}
		b := last[k]
		delete(last, k)
		c := b.v.Cursor()
		for c.Next() {
			if err := r.send(Deleted, b.m, m, b.v, c.Entry(), ""); err != nil {
				return nil, err
			}
		}
	}
	return keep, nil
}

func (r *run) wantDisk(d string) bool {
	return len(r.opts.Disks) == 0 || slices.Contains(r.opts.Disks, d)
}

func (r *run) warn(err error) {
	if r.opts.Warn != nil {
		r.opts.Warn(err)
	}
}

// first reports every file of v at m, the volume's first point.
func (r *run) first(m *catalog.Manifest, v *index.Volume) error {
	c := v.Cursor()
	for c.Next() {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		if !r.match(v, string(c.Path())) {
			continue
		}
		if err := r.added(m, v, c.Entry()); err != nil {
			return err
		}
	}
	return nil
}

// added reports a file new at m: its times, and that it is present.
func (r *run) added(m *catalog.Manifest, v *index.Volume, e index.Entry) error {
	if err := r.send(File, nil, m, v, e, ""); err != nil {
		return err
	}
	return r.send(Present, nil, m, v, e, "")
}

func (r *run) match(v *index.Volume, p string) bool {
	return r.opts.Path == nil || r.opts.Path.MatchIn(v, p)
}

// send emits one event of e in volume v at m (before: the point before).
// Deleted events are filtered by the old path, renames by either.
func (r *run) send(k Kind, before, m *catalog.Manifest, v *index.Volume, e index.Entry, oldPath string) error {
	return r.sendEvent(k, before, m, v, e, oldPath, "")
}

// sendNote is send of an event with a note (for Changed: why unsure).
func (r *run) sendNote(k Kind, before, m *catalog.Manifest, v *index.Volume, e index.Entry, note string) error {
	return r.sendEvent(k, before, m, v, e, "", note)
}

func (r *run) sendEvent(k Kind, before, m *catalog.Manifest, v *index.Volume, e index.Entry, oldPath, note string) error {
	if (k == Deleted || k == Renamed) && !r.match(v, e.Path) && (oldPath == "" || !r.match(v, oldPath)) {
		return nil
	}
	ev := &Event{Kind: k, Point: m.Name(), PointTime: m.Time, Disk: v.Disk, Volume: v.Name, GuestPath: guestPath(v, e.Path), Entry: e}
	if before != nil {
		ev.Before = before.Name()
	}
	if oldPath != "" {
		ev.OldPath = guestPath(v, oldPath)
	}
	ev.Note = note
	return r.emit(ev)
}

// guestPath is path of volume v as in the mount: "disk0/p1/etc/hosts".
func guestPath(v *index.Volume, path string) string {
	if path == "/" {
		return v.Prefix()
	}
	return v.Prefix() + path
}
