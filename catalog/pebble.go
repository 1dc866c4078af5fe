package catalog

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/vmarchive/vmarchive/catalog/format"
)

// catalogDB is the pebble catalog as the rest of the package sees it. Every
// call goes through it so that pebble's failures reach the caller as errors:
// a damaged file is ErrCorrupt naming the file and `catalog rebuild`, a full
// disk is an error naming the path, and pebble's fatal paths (its logger's
// Fatalf, a flush failing forever in the background) end the catalog, not
// the process, which may be a mount serving other points.
type catalogDB struct {
	db   *pebble.DB
	dir  string
	fail *fatalState
	idx  pointIndex // pointindex.go
}

// fatalState holds the first fatal error of a catalog; after it pebble's
// state is unknown, so writes are refused and Close leaves pebble alone.
type fatalState struct {
	once sync.Once
	err  error
	ch   chan struct{} // closed when err is set
}

func (f *fatalState) set(err error) {
	f.once.Do(func() { f.err = err; close(f.ch) })
}

func (f *fatalState) get() error {
	select {
	case <-f.ch:
		return f.err
	default:
		return nil
	}
}

// fatalPanic carries a Fatalf from pebble up to guard on our own goroutine.
type fatalPanic struct{ err error }

// pebbleLog keeps pebble's chatter off the user's terminal and turns its
// Fatalf into a catalog error.
type pebbleLog struct {
	dir  string
	fail *fatalState
}

func (pebbleLog) Infof(string, ...interface{})  {}
func (pebbleLog) Errorf(string, ...interface{}) {}

func (l pebbleLog) Fatalf(format string, args ...interface{}) {
	err := fmt.Errorf("pebble: "+format, args...)
	for _, a := range args {
		if e, ok := a.(error); ok && (pebble.IsCorruptionError(e) || errors.Is(e, syscall.ENOSPC)) {
			err = classify(l.dir, e)
		}
	}
	l.fail.set(err)
	if calledByUs() {
		panic(fatalPanic{err}) // recovered by guard
	}
	// One of pebble's background goroutines: it must not continue (pebble
	// asked to die) and a panic here would end the process. Park it; the
	// catalog's callers see fail and return.
	select {}
}

// calledByUs reports whether the current goroutine runs code of this
// module, that is, a catalogDB call that guard protects, rather than a
// background goroutine of pebble's.
func calledByUs() bool {
	pcs := make([]uintptr, 512)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	for {
		f, more := frames.Next()
		if strings.HasPrefix(f.Function, "github.com/vmarchive/vmarchive/") {
			return true
		}
		if !more {
			return false
		}
	}
}

// backgroundError sees pebble's failed flushes and compactions. pebble
// retries a failed flush at once, forever (a full disk spun at 100% CPU):
// the first failure ends the catalog's writes and each retry waits.
func (l pebbleLog) backgroundError(err error) {
	l.fail.set(classify(l.dir, err))
	time.Sleep(time.Second)
}

// classify turns pebble's errors into the package's: corruption and a full
// disk get messages that say what to do.
func classify(dir string, err error) error {
	switch {
	case err == nil || errors.Is(err, pebble.ErrNotFound) || errors.Is(err, ErrCorrupt):
		return err
	case pebble.IsCorruptionError(err):
		file := dir
		if info := pebble.ExtractDataCorruptionInfo(err); info != nil {
			file = info.Path
		}
		detail, _, _ := strings.Cut(err.Error(), "\n")
		return fmt.Errorf("catalog file %s is damaged (%q): run vmarchive catalog rebuild: %w", file, detail, ErrCorrupt)
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("catalog %s: no space left on device: free space and run the command again: %w", dir, err)
	}
	return err
}

// guard runs fn, turning a Fatalf of pebble's into an error.
func (c *catalogDB) guard(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			fp, ok := p.(fatalPanic)
			if !ok {
				panic(p)
			}
			err = fp.err
		}
	}()
	return classify(c.dir, fn())
}

// write runs fn, which may wait for pebble's background work, and returns
// early with the catalog's fatal error when that work fails for good. The
// point index learns of every write once it is visible.
func (c *catalogDB) write(fn func() error) error {
	return runGuarded(c.fail, func() error {
		defer c.idx.changed()
		return c.guard(fn)
	})
}

func runGuarded(fail *fatalState, fn func() error) error {
	if err := fail.get(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-fail.ch:
		select {
		case err := <-done:
			return err
		default:
			return fail.err
		}
	}
}

// openPebble opens the catalog in dir; readOnly writes nothing, so it works
// on a full disk (pebble flushes the log it replays when writable).
func openPebble(dir string, readOnly bool) (*catalogDB, error) {
	return openPebbleFS(dir, readOnly, privateFS{vfs.Default})
}

// openPebbleFS opens the catalog on fs (tests inject faults with errorfs).
func openPebbleFS(dir string, readOnly bool, fs vfs.FS) (*catalogDB, error) {
	c := &catalogDB{dir: dir, fail: &fatalState{ch: make(chan struct{})}}
	log := pebbleLog{dir: dir, fail: c.fail}
	opts := &pebble.Options{Logger: log, ReadOnly: readOnly, FS: fs}
	opts.EventListener = &pebble.EventListener{
		BackgroundError: log.backgroundError,
		// Reads return the corruption as an error; the default listener
		// would call Fatalf.
		DataCorruption: func(pebble.DataCorruptionInfo) {},
	}
	err := c.write(func() (err error) {
		c.db, err = pebble.Open(dir, opts)
		return err
	})
	if errors.Is(err, ErrCorrupt) || errors.Is(err, syscall.ENOSPC) {
		return nil, err // classify named the catalog
	}
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", dir, err)
	}
	return c, nil
}

// Get returns the value of key; the caller closes the closer.
func (c *catalogDB) Get(key []byte) (v []byte, closer io.Closer, err error) {
	err = c.guard(func() (err error) {
		v, closer, err = c.db.Get(key)
		return err
	})
	return v, closer, err
}

// Set writes one key.
func (c *catalogDB) Set(key, val []byte, opts *pebble.WriteOptions) error {
	return c.write(func() error { return c.db.Set(key, val, opts) })
}

// NewIter returns an iterator whose Error and Close classify errors.
func (c *catalogDB) NewIter(o *pebble.IterOptions) (*catIter, error) {
	var it *pebble.Iterator
	err := c.guard(func() (err error) {
		it, err = c.db.NewIter(o)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &catIter{Iterator: it, c: c}, nil
}

// NewBatch returns a batch whose Commit goes through write.
func (c *catalogDB) NewBatch() *catBatch {
	return &catBatch{Batch: c.db.NewBatch(), c: c}
}

// Close closes pebble unless a fatal error left it in an unknown state.
func (c *catalogDB) Close() error {
	if c.fail.get() != nil {
		return nil // the error was reported when it happened
	}
	return c.guard(c.db.Close)
}

type catIter struct {
	*pebble.Iterator
	c *catalogDB
}

func (it *catIter) Error() error {
	return it.c.guard(it.Iterator.Error)
}

func (it *catIter) Close() error {
	return it.c.guard(it.Iterator.Close)
}

type catBatch struct {
	*pebble.Batch
	c *catalogDB
}

func (b *catBatch) Commit(opts *pebble.WriteOptions) error {
	return b.c.write(func() error { return b.Batch.Commit(opts) })
}

func (r *Repo) checkSchema(create bool) error {
	v, closer, err := r.db.Get(format.SchemaKey())
	if errors.Is(err, pebble.ErrNotFound) {
		if !create {
			return fmt.Errorf("catalog has no schema version: run vmarchive catalog rebuild: %w", ErrCorrupt)
		}
		return r.db.Set(format.SchemaKey(), []byte{SchemaVersion}, pebble.Sync)
	}
	if err != nil {
		return fmt.Errorf("read catalog schema: %w", err)
	}
	defer closer.Close()
	if len(v) != 1 || v[0] != SchemaVersion {
		return fmt.Errorf("catalog schema %x, this build uses %d: run vmarchive catalog rebuild", v, SchemaVersion)
	}
	return nil
}

// chunkKnown reports whether the catalog records chunk id.
func (r *Repo) chunkKnown(id ChunkID) (bool, error) {
	_, closer, err := r.db.Get(format.ChunkKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("catalog lookup of chunk %s: %w", id, err)
	}
	closer.Close()
	return true, nil
}
