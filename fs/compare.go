package fs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/diff"
	"github.com/vmarchive/vmarchive/guestfs"
)

// The comparison view (see doc.go): MOUNT/<vm>/.compare/<A>..<B>/.
const (
	compareDirName = ".compare"
	pairSep        = ".."
	// compareCacheSize is how many comparisons a VM keeps.
	compareCacheSize = 8
	// compareRunning bounds the comparisons of one VM computed at once.
	compareRunning = 2
	// compareTimeoutFactor times the read timeout bounds one comparison,
	// which reads and hashes many files.
	compareTimeoutFactor = 10
)

// lookupCompare is vmNode.Lookup for ".compare": not listed in the VM's
// directory, but there when asked for.
func (v *vmNode) lookupCompare(ctx context.Context, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	n := &compareRoot{m: v.m, vm: v.vm}
	if errno := entryOut(ctx, n, out, liveTimeout); errno != 0 {
		return nil, errno
	}
	// An existing node for this VM wins, with its cache of comparisons.
	return v.NewInode(ctx, n, gofs.StableAttr{Mode: syscall.S_IFDIR, Ino: inoOf("compare", v.vm)}), 0
}

// compareRoot lists the adjacent pairs of a VM's points and accepts any
// pair "<A>..<B>" of point names or "latest".
type compareRoot struct {
	gofs.Inode
	m     *mount
	vm    string
	cache compareCache
}

var (
	_ gofs.NodeLookuper       = (*compareRoot)(nil)
	_ gofs.NodeOpendirHandler = (*compareRoot)(nil)
	_ gofs.NodeGetattrer      = (*compareRoot)(nil)
)

func (r *compareRoot) attr(ctx context.Context, out *fuse.Attr) syscall.Errno {
	t := r.m.started
	if times, err := r.m.archive.PointTimes(r.vm); err == nil && len(times) > 0 {
		t = times[len(times)-1]
	}
	r.m.dirAttr(out, inoOf("compare", r.vm), t)
	return 0
}

func (r *compareRoot) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.SetTimeout(liveTimeout)
	return r.attr(ctx, &out.Attr)
}

// point resolves one side of a pair name; only canonical names are
// accepted, so that one pair has one directory.
func (r *compareRoot) point(name string) (*catalog.Manifest, syscall.Errno) {
	if name != catalog.Latest {
		t, err := catalog.ParsePointTime(name)
		if err != nil || catalog.FormatPointTime(t) != name {
			return nil, syscall.ENOENT
		}
	}
	p, err := r.m.archive.Point(r.vm, name)
	if err != nil {
		return nil, r.m.errno("lookup point "+r.vm+"/"+name, err)
	}
	return p, 0
}

// Lookup finds the points of a pair; the comparison itself waits for the
// first look inside it.
func (r *compareRoot) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	an, bn, ok := strings.Cut(name, pairSep)
	if !ok {
		return nil, syscall.ENOENT
	}
	a, errno := r.point(an)
	if errno != 0 {
		return nil, errno
	}
	b, errno := r.point(bn)
	if errno != 0 {
		return nil, errno
	}
	n := newComparePair(r, name, a, b)
	timeout := frozenTimeout
	if an == catalog.Latest || bn == catalog.Latest {
		timeout = liveTimeout // moves when a point is added
	}
	if errno := entryOut(ctx, n, out, timeout); errno != 0 {
		return nil, errno
	}
	return r.NewInode(ctx, n, gofs.StableAttr{Mode: syscall.S_IFDIR, Ino: n.ino}), 0
}

// OpendirHandle lists the pairs without looking each up (namesOnly): a
// lookup reads both points' manifests.
func (r *compareRoot) OpendirHandle(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	times, err := r.m.archive.PointTimes(r.vm)
	if err != nil {
		return nil, 0, r.m.errno("list points of "+r.vm, err)
	}
	var ents []fuse.DirEntry
	for i := 1; i < len(times); i++ {
		a, b := catalog.FormatPointTime(times[i-1]), catalog.FormatPointTime(times[i])
		name := a + pairSep + b
		ents = append(ents, fuse.DirEntry{Name: name, Mode: syscall.S_IFDIR, Ino: pairIno(r.vm, name, a, b)})
	}
	return &namesOnly{ents: ents}, 0, 0
}

// pairIno numbers a pair's directory by its name and the points it
// resolved to: "A..latest" gets a new directory when latest moves.
func pairIno(vm, name, a, b string) uint64 { return inoOf("compare", vm, name, a, b) }

// comparePair is MOUNT/<vm>/.compare/<A>..<B>/: changes.txt, changes.json
// and B's changed paths under <disk>/<volume>/.
type comparePair struct {
	gofs.Inode
	root *compareRoot
	m    *mount
	a, b *catalog.Manifest
	id   []string // identity of the pair, for its descendants' inode numbers
	ino  uint64
}

var (
	_ gofs.NodeLookuper       = (*comparePair)(nil)
	_ gofs.NodeReaddirer      = (*comparePair)(nil)
	_ gofs.NodeGetattrer      = (*comparePair)(nil)
	_ gofs.NodeOpendirHandler = (*comparePair)(nil)
)

func newComparePair(r *compareRoot, name string, a, b *catalog.Manifest) *comparePair {
	id := []string{"compare", r.vm, name, a.Name(), b.Name()}
	return &comparePair{root: r, m: r.m, a: a, b: b, id: id, ino: inoOf(id...)}
}

func (p *comparePair) attr(ctx context.Context, out *fuse.Attr) syscall.Errno {
	p.m.dirAttr(out, p.ino, p.b.Time)
	return 0
}

func (p *comparePair) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return p.attr(ctx, &out.Attr)
}

// entries waits for the comparison (computing it if no one has) and
// lists what the pair's directory holds.
func (p *comparePair) entries(ctx context.Context) ([]entry, syscall.Errno) {
	c, err := p.root.cache.get(p.m, p.root.vm, p.a, p.b).wait(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, syscall.EINTR // the comparison goes on for the next asker
		}
		p.m.errs.log(compareDirName, err)
		return nil, syscall.EIO
	}
	file := func(name string, b []byte) entry {
		fid := append(slices.Clone(p.id), name)
		return entry{name: name, mode: syscall.S_IFREG, ino: inoOf(fid...), node: func() attrer {
			return &readerFile{m: p.m, ino: inoOf(fid...), size: int64(len(b)), mtime: p.b.Time, open: func(context.Context) (io.ReaderAt, error) {
				return bytes.NewReader(b), nil
			}}
		}}
	}
	ents := []entry{file("changes.txt", c.text), file("changes.json", c.json)}
	for disk, vols := range c.disks {
		did := append(slices.Clone(p.id), diskEntry(disk))
		ents = append(ents, entry{name: diskEntry(disk), mode: syscall.S_IFDIR, ino: inoOf(did...), node: func() attrer {
			return newCompareDiskDir(p.m, p.b, disk, vols, did)
		}})
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].name < ents[j].name })
	return ents, 0
}

func (p *comparePair) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ents, errno := p.entries(ctx)
	if errno != 0 {
		return nil, errno
	}
	i := sort.Search(len(ents), func(i int) bool { return ents[i].name >= name })
	if i == len(ents) || ents[i].name != name {
		return nil, syscall.ENOENT
	}
	e := ents[i]
	n := e.node()
	if errno := entryOut(ctx, n, out, frozenTimeout); errno != 0 {
		return nil, errno
	}
	return p.NewInode(ctx, n.(gofs.InodeEmbedder), gofs.StableAttr{Mode: e.mode, Ino: e.ino}), 0
}

func (p *comparePair) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ents, errno := p.entries(ctx)
	if errno != 0 {
		return nil, errno
	}
	out := make([]fuse.DirEntry, len(ents))
	for i, e := range ents {
		out[i] = fuse.DirEntry{Name: e.name, Mode: e.mode, Ino: e.ino}
	}
	return gofs.NewListDirStream(out), 0
}

// OpendirHandle lets the kernel cache the listing: a pair never changes.
func (p *comparePair) OpendirHandle(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	return &lazyDir{open: p.Readdir}, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
}

// newCompareDiskDir opens B's disk and lists the volumes with changed
// paths, nesting "lvm/<vg>/<lv>" like the point's own disk directory.
func newCompareDiskDir(m *mount, b *catalog.Manifest, disk string, vols map[string]pathSet, id []string) *listDir {
	d := &listDir{m: m, ino: inoOf(id...), mtime: b.Time}
	d.load = func(ctx context.Context) ([]entry, error) {
		dr, size, err := m.openDisk(ctx, b, disk)
		if err != nil {
			return nil, err
		}
		gd, err := guestfs.OpenDisk(dr, size, m.opts.Guest)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.DiskRef(disk), err)
		}
		t := newNest()
		for _, v := range gd.Volumes {
			set, ok := vols[v.Name]
			if !ok {
				continue
			}
			where := fmt.Sprintf("%s/%s/%s", b.ID(), disk, v.Name)
			if v.FS == nil {
				m.errs.log(compareDirName, fmt.Errorf("%s: changed paths, but the volume shows no filesystem: %v", where, v.Err))
				continue
			}
			// The point's own key: B's files keep their inode numbers.
			key := strings.Join([]string{"point", b.VM, b.Name(), diskEntry(disk), v.Name}, "\x00")
			vol := &volume{m: m, fs: v.FS, key: key, where: where}
			vid := append(slices.Clone(id), v.Name)
			root := v.FS.Root()
			t.add(v.Name, entry{mode: syscall.S_IFDIR, ino: inoOf(vid...), node: func() attrer {
				return newCompareDir(vol, root, set, vid)
			}})
		}
		return t.entries(m, id, b.Time), nil
	}
	return d
}

// compareDir is a directory of B inside the comparison view: B's own
// directory (attributes, xattrs), listing only the names on the way to a
// changed path. Its inode number is its own: its listing is not the
// directory's. Everything else below it is B's guestNode itself.
type compareDir struct {
	guestNode
	ino  uint64
	id   []string // identity for the inode numbers of subdirectories
	kids pathSet
}

var (
	_ gofs.NodeLookuper       = (*compareDir)(nil)
	_ gofs.NodeReaddirer      = (*compareDir)(nil)
	_ gofs.NodeGetattrer      = (*compareDir)(nil)
	_ gofs.NodeOpendirHandler = (*compareDir)(nil)
	_ gofs.NodeGetxattrer     = (*compareDir)(nil)
)

func newCompareDir(vol *volume, gino uint64, kids pathSet, id []string) *compareDir {
	return &compareDir{guestNode: guestNode{vol: vol, gino: gino}, ino: inoOf(id...), id: id, kids: kids}
}

func (d *compareDir) attr(ctx context.Context, out *fuse.Attr) syscall.Errno {
	if errno := d.guestNode.attr(ctx, out); errno != 0 {
		return errno
	}
	out.Ino = d.ino
	out.Nlink = 1 // the subdirectories listed are not the directory's
	return 0
}

func (d *compareDir) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return d.attr(ctx, &out.Attr)
}

// child makes the node of a listed name: a filtered directory, or B's
// own node for anything else.
func (d *compareDir) child(e guestfs.DirEntry) (attrer, uint64) {
	if e.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		id := append(slices.Clone(d.id), e.Name)
		return newCompareDir(d.vol, e.Ino, d.kids[e.Name], id), inoOf(id...)
	}
	return &guestNode{vol: d.vol, gino: e.Ino}, guestIno(d.vol.key, e.Ino)
}

func (d *compareDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if _, ok := d.kids[name]; !ok {
		return nil, syscall.ENOENT
	}
	d.mu.Lock()
	e, ok := d.listed[name]
	d.mu.Unlock()
	if !ok {
		var err error
		if e, err = d.vol.fs.Lookup(d.gino, name); err != nil {
			return nil, d.vol.errno("lookup "+name, d.gino, err)
		}
		e.Name = name
	}
	n, ino := d.child(e)
	if errno := entryOut(ctx, n, out, frozenTimeout); errno != 0 {
		return nil, errno
	}
	return d.NewInode(ctx, n.(gofs.InodeEmbedder), gofs.StableAttr{Mode: out.Attr.Mode & syscall.S_IFMT, Ino: ino}), 0
}

// Readdir reads B's directory once and keeps the names on the way to a
// change.
func (d *compareDir) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ents, err := d.vol.fs.ReadDir(d.gino)
	if err != nil {
		return nil, d.vol.errno("readdir", d.gino, err)
	}
	var out []fuse.DirEntry
	listed := make(map[string]guestfs.DirEntry, len(d.kids))
	for _, e := range ents {
		if _, ok := d.kids[e.Name]; !ok {
			continue
		}
		_, ino := d.child(e)
		out = append(out, fuse.DirEntry{Name: e.Name, Mode: e.Mode & syscall.S_IFMT, Ino: ino})
		listed[e.Name] = e
	}
	d.mu.Lock()
	d.listed = listed
	d.mu.Unlock()
	return gofs.NewListDirStream(out), 0
}

// OpendirHandle: the filtered listing, cached by the kernel like B's own.
func (d *compareDir) OpendirHandle(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	return &lazyDir{open: d.Readdir}, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
}

// pathSet is a set of paths as a tree of names: the changed paths of one
// volume in B and the directories on their way.
type pathSet map[string]pathSet

// add adds a "/"-separated path, without recursion.
func (s pathSet) add(p string) {
	for _, name := range strings.Split(p, "/") {
		if name == "" || name == "." || name == ".." {
			continue
		}
		next := s[name]
		if next == nil {
			next = pathSet{}
			s[name] = next
		}
		s = next
	}
}

// comparison is what a pair's directory shows, made once from a report.
type comparison struct {
	text, json []byte
	disks      map[string]map[string]pathSet // disk -> volume -> B's changed paths
}

func newComparison(r *diff.Report) (*comparison, error) {
	var text bytes.Buffer
	if err := diff.WriteText(&text, r, false); err != nil {
		return nil, fmt.Errorf("write report: %w", err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode report: %w", err)
	}
	c := &comparison{text: text.Bytes(), json: append(js, '\n'), disks: map[string]map[string]pathSet{}}
	for _, d := range r.Disks {
		if d.Status == diff.Deleted {
			continue
		}
		for _, v := range d.Volumes {
			for _, ch := range v.Changes {
				switch ch.Status {
				case diff.Added, diff.Modified, diff.MetadataOnly, diff.TypeChanged, diff.Renamed, diff.Unknown:
				default:
					continue // in A only
				}
				vols := c.disks[d.Name]
				if vols == nil {
					vols = map[string]pathSet{}
					c.disks[d.Name] = vols
				}
				if vols[v.Name] == nil {
					vols[v.Name] = pathSet{}
				}
				vols[v.Name].add(ch.Path)
			}
		}
	}
	return c, nil
}

// compareCache holds the last comparisons of one VM, computed once each
// however many ask at the same time.
type compareCache struct {
	mu   sync.Mutex
	sem  chan struct{} // a token per comparison being computed; made under mu
	jobs []*compareJob // least recently used first; guarded by mu
}

// compareJob is one comparison, done or under way.
type compareJob struct {
	a, b string        // point names
	done chan struct{} // closed when res or err is set
	res  *comparison
	err  error
}

// get returns the job comparing a with b, starting it if needed.
func (c *compareCache) get(m *mount, vm string, a, b *catalog.Manifest) *compareJob {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, j := range c.jobs {
		if j.a == a.Name() && j.b == b.Name() {
			c.jobs = append(slices.Delete(c.jobs, i, i+1), j)
			return j
		}
	}
	if c.sem == nil {
		c.sem = make(chan struct{}, compareRunning)
	}
	j := &compareJob{a: a.Name(), b: b.Name(), done: make(chan struct{})}
	if len(c.jobs) >= compareCacheSize {
		// Waiters of an evicted job still get its result.
		c.jobs = slices.Delete(c.jobs, 0, 1)
	}
	c.jobs = append(c.jobs, j)
	go c.run(m, vm, j, a, b)
	return j
}

// run computes a job, detached from the request that started it so an
// interrupted reader does not waste it; a failure is not kept, so the
// next asker tries again.
func (c *compareCache) run(m *mount, vm string, j *compareJob, a, b *catalog.Manifest) {
	c.sem <- struct{}{}
	defer func() { <-c.sem }()
	ctx, cancel := context.WithTimeout(context.Background(), compareTimeoutFactor*m.opts.ReadTimeout)
	defer cancel()
	r, err := compareReport(ctx, m, a, b)
	if err == nil {
		j.res, err = newComparison(r)
	}
	if err != nil {
		j.err = fmt.Errorf("compare %s/%s with %s: %w", vm, a.Name(), b.Name(), err)
		c.mu.Lock()
		if i := slices.Index(c.jobs, j); i >= 0 {
			c.jobs = slices.Delete(c.jobs, i, i+1)
		}
		c.mu.Unlock()
	}
	close(j.done)
}

// wait returns the job's result, or ctx's error if the asker gives up
// first.
func (j *compareJob) wait(ctx context.Context) (*comparison, error) {
	select {
	case <-j.done:
		return j.res, j.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// compareReport compares two points of the mounted repository.
func compareReport(ctx context.Context, m *mount, a, b *catalog.Manifest) (*diff.Report, error) {
	repo, ok := m.archive.(*catalog.Repo)
	if !ok {
		return nil, fmt.Errorf("comparing points needs a repository, not %T: %w", m.archive, errors.ErrUnsupported)
	}
	r, err := diff.Compare(ctx, repo, a, b, diff.Options{})
	if err != nil {
		return nil, err
	}
	// A disk that could not be compared fails the whole view (EIO, tried
	// again later); a volume is only a line of changes.txt.
	for _, d := range r.Disks {
		if len(d.Errors) > 0 {
			return nil, fmt.Errorf("disk %s: %s", d.Name, strings.Join(d.Errors, "; "))
		}
	}
	return r, nil
}
