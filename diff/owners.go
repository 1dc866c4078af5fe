package diff

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/vmarchive/vmarchive/guestfs"
	"github.com/vmarchive/vmarchive/index"
)

// run is a byte range of a volume that belongs to one file.
type run struct {
	off, n int64
	path   string
	note   string // the file's blocks were mapped only in part
}

// ownerMap says what owns each byte of one volume in one point.
type ownerMap struct {
	runs   []run   // sorted by off; NTFS records may overlap
	maxEnd []int64 // maxEnd[i] = max end of runs[:i+1]
	alloc  []guestfs.Region
	noMap  bool // the filesystem cannot tell free from used space
	// unmapped counts the files whose extents could not be read, and
	// first names one: used space that no mapped file owns may be
	// theirs, so it is not called metadata.
	unmapped int
	first    string
}

// failed records a file whose extents could not be read (in full), or a
// directory whose files could not be listed.
func (m *ownerMap) failed(msg string) {
	if m.unmapped == 0 {
		m.first = msg
	}
	m.unmapped++
}

// unmappedNote says why used space no mapped file owns is unknown.
func (m *ownerMap) unmappedNote() string {
	if m.unmapped == 1 {
		return "may be a file's whose blocks could not be mapped: " + m.first
	}
	return fmt.Sprintf("may be one of %d files whose blocks could not be mapped, e.g. %s", m.unmapped, m.first)
}

// err summarises the files that could not be mapped; nil when none.
func (m *ownerMap) err() error {
	switch m.unmapped {
	case 0:
		return nil
	case 1:
		return errors.New(m.first)
	}
	return fmt.Errorf("%s (and %d more files)", m.first, m.unmapped-1)
}

// buildOwners maps every file's extents, taking paths and inodes from the
// volume's file index when there is a complete one (no directory is read)
// and walking the tree otherwise. A file with several hard links is named
// by its first path in byte order.
func buildOwners(ctx context.Context, fs guestfs.FS, ix *index.Volume) (*ownerMap, error) {
	x, ok := fs.(guestfs.Extenter)
	if !ok {
		return nil, fmt.Errorf("%s: cannot map files to blocks", fs.Type())
	}
	b := &ownerBuilder{m: &ownerMap{}, x: x, seen: map[uint64]bool{}, linked: map[uint64]string{}, firstPath: map[uint64]string{}}
	if bl, ok := fs.(guestfs.Blocker); ok {
		b.bs = bl.BlockSize()
	}
	if entries, ok := completeEntries(ix); ok {
		if err := b.fromIndex(ctx, entries); err != nil {
			return nil, err
		}
	} else if err := guestfs.Walk(ctx, fs, guestfs.Limits{}, b.visit, b.unlisted); err != nil {
		return nil, err
	}
	b.renameLinked()
	b.m.sortRuns()
	if err := b.m.allocation(fs); err != nil {
		return nil, err
	}
	return b.m, nil
}

// ownerBuilder collects the runs of an ownerMap.
type ownerBuilder struct {
	m    *ownerMap
	x    guestfs.Extenter
	bs   int64 // allocation unit; 0 when unknown
	seen map[uint64]bool
	// linked holds the smallest path of each inode met more than once.
	linked    map[uint64]string
	firstPath map[uint64]string
}

// mapFile adds a file's runs. A file's last block is the file's, slack
// included; runs inside a block (NTFS resident data) stay as they are.
// The extents read before an error are the file's all the same.
func (b *ownerBuilder) mapFile(ino uint64, p string) {
	exts, err := b.x.Extents(ino)
	note := ""
	if err != nil {
		b.m.failed(fmt.Sprintf("extents of %s: %v", p, err))
		note = "mapped in part: " + err.Error()
	}
	for _, ex := range exts {
		n := ex.Length
		if b.bs > 0 && ex.Physical%b.bs == 0 {
			n = (n + b.bs - 1) / b.bs * b.bs
		}
		b.m.runs = append(b.m.runs, run{ex.Physical, n, p, note})
	}
}

func (b *ownerBuilder) fromIndex(ctx context.Context, entries []index.Entry) error {
	for i, e := range entries {
		if i%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if b.seen[e.Ino] {
			continue // sorted: the first path is the smallest
		}
		b.seen[e.Ino] = true
		b.mapFile(e.Ino, e.Path)
	}
	return nil
}

// visit is the walk's guestfs.WalkFunc. A directory whose blocks the
// reader does not map (NTFS indexes) still has its entries walked.
func (b *ownerBuilder) visit(p string, e guestfs.DirEntry) error {
	if b.seen[e.Ino] {
		if q, ok := b.linked[e.Ino]; !ok && p < b.firstPath[e.Ino] || ok && p < q {
			b.linked[e.Ino] = p
		}
		return guestfs.SkipDir
	}
	b.seen[e.Ino] = true
	b.firstPath[e.Ino] = p
	b.mapFile(e.Ino, p)
	return nil
}

// unlisted is the walk's guestfs.ErrFunc. A directory met twice hides no
// file; one that cannot be listed hides the files below it, which may own
// used space.
func (b *ownerBuilder) unlisted(p string, err error) {
	if !errors.Is(err, guestfs.ErrCycle) {
		b.m.failed(fmt.Sprintf("%s: %v", p, err))
	}
}

// renameLinked names each linked file's runs by its smallest path.
func (b *ownerBuilder) renameLinked() {
	if len(b.linked) == 0 {
		return
	}
	rename := map[string]string{}
	for ino, p := range b.linked {
		rename[b.firstPath[ino]] = p
	}
	for i := range b.m.runs {
		if p, ok := rename[b.m.runs[i].path]; ok {
			b.m.runs[i].path = p
		}
	}
}

func (m *ownerMap) sortRuns() {
	sort.Slice(m.runs, func(i, j int) bool { return m.runs[i].off < m.runs[j].off })
	m.maxEnd = make([]int64, len(m.runs))
	var e int64
	for i, r := range m.runs {
		e = max(e, r.off+r.n)
		m.maxEnd[i] = e
	}
}

// allocation loads the filesystem's map of used space, when it has one.
func (m *ownerMap) allocation(fs guestfs.FS) error {
	al, ok := fs.(guestfs.Allocator)
	if !ok {
		m.noMap = true
		return nil
	}
	regions, err := al.Allocation()
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		m.noMap = true
	case err != nil:
		return fmt.Errorf("allocation map: %w", err)
	}
	m.alloc = regions
	return nil
}

// completeEntries returns the entries of an index volume with no gaps.
func completeEntries(ix *index.Volume) ([]index.Entry, bool) {
	if ix == nil {
		return nil, false
	}
	es := ix.Entries()
	for i := range es {
		if es[i].StatFailed || es[i].ListFailed {
			return nil, false
		}
	}
	return es, true
}
