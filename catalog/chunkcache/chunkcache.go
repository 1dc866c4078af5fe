// Package chunkcache keeps stored objects of a remote repository in a
// local directory, bounded in bytes on disk, so that reading a point
// again does not fetch its chunks from the bucket again.
//
// Objects are kept exactly as the store holds them: the objects of an
// encrypted repository stay sealed, so no plaintext reaches the disk.
// Each file is a header (magic, CRC-32C of the payload) and the payload;
// a file that fails its CRC (a crash mid-write, a damaged disk) is
// removed and counts as a miss. Files are written to a temporary name
// and renamed, so readers never see half a file.
//
// Eviction is least-recently-used: the order lives in memory and in the
// files' modification times (touched on every hit), so it survives a
// restart. Space is reserved before a file is written, so the bytes on
// disk (whole 4 KiB blocks) never exceed the limit.
//
// PutAsync leaves the writing to one goroutine, so a reader waits for the
// network but not also for the disk; Close finishes the queued writes.
//
// One process uses a directory at a time: the repository's lock, held
// by whoever opens the cache, sees to it.
package chunkcache

import (
	"container/list"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

const (
	magic      = "vmc1"
	headerSize = 8 // magic, CRC-32C of the payload (little endian)
	blockSize  = 4096
	tmpPrefix  = ".tmp-"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Cache is a bounded directory of objects keyed by lowercase hex names
// (chunk ids). It is safe for concurrent use.
type Cache struct {
	dir   string
	limit int64

	hits, misses atomic.Int64

	// Writes queued by PutAsync, done by one goroutine off the readers' path.
	qmu    sync.Mutex
	queue  chan pending // closed by Close; guarded by qmu
	closed bool         // guarded by qmu
	done   chan struct{}

	mu    sync.Mutex
	used  int64                    // bytes on disk, reservations included; guarded by mu
	order *list.List               // of *entry, front = most recent; guarded by mu
	items map[string]*list.Element // guarded by mu
}

type pending struct {
	key   string
	data  []byte
	onErr func(error)
}

// queueLen bounds the writes PutAsync keeps waiting (and their memory).
const queueLen = 32

type entry struct {
	key  string
	size int64 // on disk, in whole blocks
}

// Open opens (making it if needed) the cache in dir, bounded to limit
// bytes on disk, taking in the files a previous run left.
func Open(dir string, limit int64) (*Cache, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("chunk cache %s: size limit %d: want a positive number of bytes", dir, limit)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("chunk cache: %w", err)
	}
	c := &Cache{dir: dir, limit: limit, order: list.New(), items: map[string]*list.Element{},
		queue: make(chan pending, queueLen), done: make(chan struct{})}
	if err := c.load(); err != nil {
		return nil, fmt.Errorf("chunk cache %s: %w", dir, err)
	}
	go c.writer()
	return c, nil
}

// PutAsync is Put in the background: a reader does not wait for the disk
// unless queueLen writes are waiting already. After Close data is not
// kept. A failed write goes to onErr, if set. data must not change
// afterwards.
func (c *Cache) PutAsync(key string, data []byte, onErr func(error)) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.closed {
		return
	}
	c.queue <- pending{key, data, onErr}
}

func (c *Cache) writer() {
	defer close(c.done)
	for p := range c.queue {
		if err := c.Put(p.key, p.data); err != nil && p.onErr != nil {
			p.onErr(err)
		}
	}
}

// Close finishes the queued writes; later PutAsyncs are ignored.
func (c *Cache) Close() {
	c.qmu.Lock()
	if !c.closed {
		c.closed = true
		close(c.queue)
	}
	c.qmu.Unlock()
	<-c.done
}

// Dir returns the cache's directory.
func (c *Cache) Dir() string { return c.dir }

// Limit returns the bound on bytes on disk.
func (c *Cache) Limit() int64 { return c.limit }

// Used returns the bytes on disk the cache holds (or has reserved).
func (c *Cache) Used() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// Stats returns the hits and misses of Get so far.
func (c *Cache) Stats() (hits, misses int64) { return c.hits.Load(), c.misses.Load() }

// validKey accepts lowercase hex of at least 3 digits: the first two name
// the subdirectory, and nothing can climb out of the cache.
func validKey(key string) bool {
	if len(key) < 3 {
		return false
	}
	for _, r := range key {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}

func (c *Cache) path(key string) string { return filepath.Join(c.dir, key[:2], key) }

// diskSize is what a payload of n bytes takes on disk, in whole blocks.
func diskSize(n int) int64 {
	return (int64(headerSize+n) + blockSize - 1) / blockSize * blockSize
}

// Get returns the object stored under key, if the cache has it whole.
func (c *Cache) Get(key string) ([]byte, bool) {
	if !validKey(key) {
		return nil, false
	}
	c.mu.Lock()
	e, ok := c.items[key]
	if ok {
		c.order.MoveToFront(e)
	}
	c.mu.Unlock()
	if !ok {
		c.misses.Add(1)
		return nil, false
	}
	p := c.path(key)
	b, err := os.ReadFile(p) // an eviction meanwhile unlinks; an open file stays whole
	if err == nil && decode(b) != nil {
		c.hits.Add(1)
		now := time.Now()
		os.Chtimes(p, now, now) // recency for the next run
		return b[headerSize:], true
	}
	c.Drop(key)
	c.misses.Add(1)
	return nil, false
}

// decode checks a file's header against its payload.
func decode(b []byte) []byte {
	if len(b) < headerSize || string(b[:4]) != magic {
		return nil
	}
	if crc32.Checksum(b[headerSize:], castagnoli) != binary.LittleEndian.Uint32(b[4:8]) {
		return nil
	}
	return b[headerSize:]
}

// Put stores data under key, evicting the least recently used objects to
// stay within the limit. An object over a quarter of the limit is not
// kept. Put is best effort: it reports failures (a full disk), but the
// cache stays consistent.
func (c *Cache) Put(key string, data []byte) error {
	if !validKey(key) {
		return fmt.Errorf("chunk cache: invalid key %q", key)
	}
	size := diskSize(len(data))
	if size > c.limit/4 {
		return nil
	}
	victims, ok := c.reserve(key, size)
	c.remove(victims)
	if !ok {
		return nil // there already
	}
	if err := c.write(key, data); err != nil {
		c.mu.Lock()
		c.used -= size
		c.mu.Unlock()
		return fmt.Errorf("chunk cache: %w", err)
	}
	c.mu.Lock()
	if _, dup := c.items[key]; dup { // a racing Put of the same object won
		c.used -= size
	} else {
		c.items[key] = c.order.PushFront(&entry{key: key, size: size})
	}
	c.mu.Unlock()
	return nil
}

// reserve counts size bytes for key, choosing the objects to evict to
// make room; ok is false when key is already there.
func (c *Cache) reserve(key string, size int64) (victims []string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, there := c.items[key]; there {
		return nil, false
	}
	for c.used+size > c.limit && c.order.Len() > 0 {
		victims = append(victims, c.evictOldest())
	}
	if c.used+size > c.limit { // room reserved by writes in flight
		return victims, false
	}
	c.used += size
	return victims, true
}

// evictOldest forgets the least recently used entry; the caller removes
// its file. c.mu is held.
func (c *Cache) evictOldest() string {
	e := c.order.Back()
	ent := e.Value.(*entry)
	c.order.Remove(e)
	delete(c.items, ent.key)
	c.used -= ent.size
	return ent.key
}

func (c *Cache) remove(keys []string) {
	for _, k := range keys {
		os.Remove(c.path(k))
	}
}

// write puts the file for key in place through a temporary name.
func (c *Cache) write(key string, data []byte) error {
	dir := filepath.Join(c.dir, key[:2])
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return err
	}
	var hdr [headerSize]byte
	copy(hdr[:], magic)
	binary.LittleEndian.PutUint32(hdr[4:], crc32.Checksum(data, castagnoli))
	_, err = f.Write(hdr[:])
	if err == nil {
		_, err = f.Write(data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), c.path(key))
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// Drop removes key's object, if cached (the store's copy changed, or the
// cached one failed its hash).
func (c *Cache) Drop(key string) {
	if !validKey(key) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.order.Remove(e)
		delete(c.items, key)
		c.used -= e.Value.(*entry).size
	}
	os.Remove(c.path(key))
}

// load takes in the files of an earlier run, oldest first, removing
// temporary files and whatever does not fit the limit now.
func (c *Cache) load() error {
	type found struct {
		key   string
		size  int64
		mtime time.Time
	}
	var files []found
	err := filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		name := d.Name()
		info, err := d.Info()
		if err != nil || !validKey(name) || filepath.Base(filepath.Dir(p)) != name[:2] || info.Size() < headerSize {
			os.Remove(p) // a temporary file of a killed run, or a stranger
			return nil
		}
		files = append(files, found{name, diskSize(int(info.Size()) - headerSize), info.ModTime()})
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	slices.SortFunc(files, func(a, b found) int { return a.mtime.Compare(b.mtime) })
	for _, f := range files { // newest last: each goes to the front
		c.items[f.key] = c.order.PushFront(&entry{key: f.key, size: f.size})
		c.used += f.size
	}
	var victims []string
	for c.used > c.limit {
		victims = append(victims, c.evictOldest())
	}
	c.remove(victims)
	return nil
}
