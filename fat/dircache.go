package fat

import (
	"container/list"
	"fmt"
	"sync"
)

// dirData is a parsed directory.
type dirData struct {
	ents    []dirent
	label   []byte   // raw volume label entry name, root directory only
	ext     []Extent // where the directory's bytes are
	size    int64    // bytes: chain length * cluster size, or the fixed root size
	subdirs int

	indexOnce sync.Once
	index     *lookupIndex // built by the first Lookup
}

// lookup returns the index of the entry name matches, or -1.
func (d *dirData) lookup(name string) int {
	d.indexOnce.Do(func() { d.index = newLookupIndex(d.ents) })
	return d.index.find(name)
}

// Directory cache bounds: at most dirCacheEntries names in at most
// dirCacheDirs directories, except that the most recent directory is
// always kept so a huge one is not re-read for every Lookup.
const (
	dirCacheEntries = 16384
	dirCacheDirs    = 256
)

// dirCache is an LRU of parsed directories keyed by first cluster
// (0 for the fixed FAT12/16 root).
type dirCache struct {
	mu struct {
		sync.Mutex
		lru     *list.List               // of *dirCacheItem, front = newest; guarded by mu
		byKey   map[uint32]*list.Element // guarded by mu
		entries int                      // names cached; guarded by mu
	}
}

type dirCacheItem struct {
	key uint32
	d   *dirData
}

func newDirCache() *dirCache {
	c := &dirCache{}
	c.mu.lru = list.New()
	c.mu.byKey = map[uint32]*list.Element{}
	return c
}

func (c *dirCache) get(key uint32) *dirData {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.mu.byKey[key]
	if !ok {
		return nil
	}
	c.mu.lru.MoveToFront(el)
	return el.Value.(*dirCacheItem).d
}

func (c *dirCache) put(key uint32, d *dirData) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.mu.byKey[key]; ok {
		return
	}
	c.mu.byKey[key] = c.mu.lru.PushFront(&dirCacheItem{key: key, d: d})
	c.mu.entries += len(d.ents)
	for c.mu.lru.Len() > 1 && (c.mu.entries > dirCacheEntries || c.mu.lru.Len() > dirCacheDirs) {
		it := c.mu.lru.Remove(c.mu.lru.Back()).(*dirCacheItem)
		delete(c.mu.byKey, it.key)
		c.mu.entries -= len(it.d.ents)
	}
}

// rootDir loads the root directory.
func (fs *FS) rootDir() (*dirData, error) {
	if fs.l.fatBits == 32 {
		return fs.dir(RootIno, fs.l.rootCluster)
	}
	if d := fs.dirs.get(0); d != nil {
		return d, nil
	}
	ext := []Extent{{Logical: 0, Physical: fs.l.rootOffset, Length: fs.l.rootSize}}
	d, err := fs.loadDir(RootIno, ext)
	if err != nil {
		return nil, err
	}
	fs.dirs.put(0, d)
	return d, nil
}

// dir loads the directory starting at cluster; ino names it in errors.
// Cluster 0 outside the root is an empty directory, as Linux reads it.
func (fs *FS) dir(ino uint64, cluster uint32) (*dirData, error) {
	if cluster == 0 {
		return &dirData{}, nil
	}
	if d := fs.dirs.get(cluster); d != nil {
		return d, nil
	}
	what := fmt.Sprintf("directory inode %d", ino)
	limit := (maxDirSlots*dirEntrySize + fs.l.clusterSize - 1) / fs.l.clusterSize
	runs, ended, err := fs.fat.chain(cluster, limit, what)
	if err != nil {
		return nil, fmt.Errorf("fat: %w", err)
	}
	if !ended {
		return nil, fmt.Errorf("fat: %s: cluster chain from %d is longer than %d clusters (%d entries): %w",
			what, cluster, limit, maxDirSlots, ErrCorrupt)
	}
	d, err := fs.loadDir(ino, fs.runExtents(runs, -1))
	if err != nil {
		return nil, err
	}
	fs.dirs.put(cluster, d)
	return d, nil
}

// loadDir reads and parses a directory stored in ext.
func (fs *FS) loadDir(ino uint64, ext []Extent) (*dirData, error) {
	size := extentsLength(ext)
	for _, e := range ext { // fail before allocating for bytes the image lacks
		if e.Physical+e.Length > fs.size {
			return nil, fmt.Errorf("fat: directory inode %d: bytes %d..%d are beyond the end of the image (%d bytes): truncated image: %w",
				ino, e.Physical, e.Physical+e.Length, fs.size, ErrCorrupt)
		}
	}
	buf := make([]byte, size)
	if err := fs.readExtents(buf, ext, 0); err != nil {
		return nil, fmt.Errorf("fat: directory inode %d: %w", ino, err)
	}
	ents, label := parseDir(buf)
	d := &dirData{ents: ents, label: label, ext: ext, size: size}
	for i := range d.ents {
		e := &d.ents[i]
		e.ino = uint64(physical(ext, int64(e.slot)*dirEntrySize) / dirEntrySize)
		if e.e.isDir() {
			d.subdirs++
		}
	}
	return d, nil
}
