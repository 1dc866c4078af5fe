package catalog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/vmarchive/vmarchive/catalog/backend"
	"github.com/vmarchive/vmarchive/catalog/backend/local"

	"github.com/vmarchive/vmarchive/catalog/format"
)

// Repo is an open repository: the chunk store plus its pebble catalog.
// Only one process opens a repository at a time.
type Repo struct {
	dir   string
	cfg   Config
	be    backend.Backend
	db    *catalogDB
	lock  *os.File
	cache *blobCache
	// chunks, for an object store, keeps fetched objects on disk; nil: none.
	chunks *diskChunks
	// fetchTimeout bounds one shared fetch (Options.FetchTimeout).
	fetchTimeout time.Duration
	// prefetchSem bounds background readahead fetches across all disks;
	// readahead is how many extents a sequential reader asks for ahead.
	prefetchSem chan struct{}
	readahead   int
	// storeWorkers, when set, is how many chunks an ingest stores at once
	// (StoreWorkers).
	storeWorkers int
	// gc coordinates garbage collection with the Writers (gc.go).
	gc gcState
	// commitMu orders the changes of points between the store and the
	// catalog: Commit, Forget and gc's reconcile.
	commitMu sync.Mutex
	// readOnly: opened with Options.ReadOnly; writes fail.
	readOnly bool
	// crypt holds the keys of an encrypted repository, nil for a plain one.
	crypt *repoCrypt
	// shared: the store is an object store other hosts may write; the
	// catalog is a cache of it (refresh.go), and writers and gc take
	// lock objects in it (bucketlock.go).
	shared bool
	locks  *bucketLocks
	logf   func(string, ...any)
}

// Options tune Open.
type Options struct {
	// Command describes the opener, shown to processes that find it held.
	Command string
	// CacheBytes bounds the cache of decompressed chunks (default 64 MiB).
	CacheBytes int64
	// ChunkCacheBytes, for a repository in an object store, keeps up to
	// this many bytes of the objects reads fetch on disk, beside the
	// catalog (chunkcache.go); 0: none.
	ChunkCacheBytes int64
	// FetchTimeout bounds one fetch of an object for a read, which all
	// readers of that object share (default DefaultFetchTimeout). A mount
	// sets its read timeout, so a fetch stalled on an unreachable bucket
	// is abandoned with its readers and the next read asks again.
	FetchTimeout time.Duration
	// WrapBackend, if set, wraps the store's backend: a rate limiter, a
	// fault injector in tests.
	WrapBackend func(backend.Backend) backend.Backend
	// ReadOnly opens the catalog without writing to it (commands that only
	// read: they then work on a full disk).
	ReadOnly bool
	// Store, when set, is the repository's store (an object store, see
	// Attach); the directory then holds only the lock, the control socket
	// and the catalog, a cache built from the store when missing.
	Store backend.Backend
	// Password is asked only if the repository is encrypted; one that opens
	// no key file is ErrWrongPassword, after the key derivation and before
	// any data is read. The caller may wipe the bytes after Open returns.
	Password func() ([]byte, error)
	// Refresh, for a repository in an object store, brings the catalog up
	// to date with the points other hosts wrote or forgot (Repo.Refresh)
	// as it opens, even a read-only one.
	Refresh bool
	// LockLease is how long a lock object in an object store may go
	// unchanged before other hosts take its holder for dead (default
	// DefaultLockLease; bucketlock.go).
	LockLease time.Duration
	// Log, if set, receives what the repository waits for ("waiting for
	// gc on host h") and what a refresh found.
	Log func(format string, args ...any)

	// master, when set by Init, opens an encrypted repository without
	// deriving the key again.
	master      *format.MasterKey
	masterKeyID string
}

// InitOptions say how Init makes a repository.
type InitOptions struct {
	// Chunking makes a format-2 repository cutting content-defined chunks.
	Chunking Chunking
	// ChunkSize (when Chunking is zero) makes a repository of fixed-size
	// chunks, format 1, which ingest does not add points to: tests of
	// format-1 reading use it. Both zero: format 2, chunks of
	// DefaultChunkSize on average.
	ChunkSize int
	// Encrypt seals every stored object; Password is then the first key's.
	Encrypt  bool
	Password []byte
	// Store, when set, is the new repository's store (an object store,
	// which must hold no repository yet); Init's dir is then the cache
	// root, and the catalog goes to CacheDir(dir, id).
	Store backend.Backend
}

const (
	storeDir   = "store"
	catalogDir = "catalog"
	lockFile   = "lock"
	configName = "config"
)

// Init creates a repository in dir, which must be absent or empty (or,
// with opts.Store, in that store, its catalog under the cache root dir).
func Init(ctx context.Context, dir string, opts InitOptions) (*Config, error) {
	cfg := Config{Version: 1, ChunkSize: opts.ChunkSize}
	switch {
	case opts.Chunking != Chunking{}:
		c := opts.Chunking
		cfg = Config{Version: 2, Chunking: &c}
	case cfg.ChunkSize == 0: // format 2 unless fixed-size chunks are asked for
		c := format.DefaultChunking(DefaultChunkSize)
		cfg = Config{Version: 2, Chunking: &c}
	}
	if opts.Encrypt {
		cfg.Version = format.MinEncryptedVersion
	}
	var err error
	if cfg.Chunking != nil {
		err = cfg.Chunking.Validate()
	} else {
		err = CheckChunkSize(cfg.ChunkSize)
	}
	if err != nil {
		return nil, err
	}
	if opts.Encrypt && len(opts.Password) == 0 {
		return nil, fmt.Errorf("init %s: an encrypted repository needs a password", dir)
	}
	id := make([]byte, 16)
	rand.Read(id)
	cfg.ID, cfg.Created = hex.EncodeToString(id), time.Now().UTC().Truncate(time.Second)
	be, dir, err := initStore(ctx, dir, cfg.ID, opts.Store)
	if err != nil {
		return nil, err
	}
	open := Options{Command: "init", Store: opts.Store}
	if opts.Encrypt {
		if open, err = initKeys(ctx, be, &cfg, opts.Password); err != nil {
			return nil, fmt.Errorf("init: %w", err)
		}
		open.Store = opts.Store
	}
	// The plain config goes last: with it the repository exists.
	plain := cfg
	if opts.Encrypt {
		plain = cfg.Stub()
	}
	b, _ := json.MarshalIndent(plain, "", " ")
	if err := putConfig(ctx, be, b); err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	r, err := openRepo(ctx, dir, open, true)
	if err != nil {
		return nil, err
	}
	return &cfg, r.Close()
}

// Open opens the repository in dir. It fails with ErrHeld when another
// process has it open.
func Open(ctx context.Context, dir string, opts Options) (*Repo, error) {
	return openRepo(ctx, dir, opts, false)
}

func openRepo(ctx context.Context, dir string, opts Options, create bool) (*Repo, error) {
	if opts.Store != nil {
		return openCached(ctx, dir, opts, create)
	}
	if _, err := os.Stat(filepath.Join(dir, storeDir, configName)); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open repository %s: no repository here (run vmarchive init): %w", dir, ErrNotFound)
	} else if err != nil {
		// Another user's repository is owner-only: say so, not "absent".
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	if err := checkLayout(dir); err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	lock, err := lockRepo(filepath.Join(dir, lockFile), opts.Command)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	return openLocked(ctx, dir, lock, opts, create)
}

// openLocked opens the repository whose lock the caller already holds; the
// Repo takes the lock over.
func openLocked(ctx context.Context, dir string, lock *os.File, opts Options, create bool) (*Repo, error) {
	r, err := openStore(ctx, dir, lock, opts, create)
	if err != nil {
		return nil, err
	}
	if err := r.openCatalog(create); err != nil {
		r.Close()
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	return r, nil
}

// openStore opens the store of the repository whose lock the caller holds
// (unlocking an encrypted one), but not yet its catalog.
func openStore(ctx context.Context, dir string, lock *os.File, opts Options, create bool) (*Repo, error) {
	r := &Repo{dir: dir, lock: lock, prefetchSem: make(chan struct{}, workers()), readahead: readahead, readOnly: opts.ReadOnly && !create, logf: opts.Log}
	if r.logf == nil {
		r.logf = func(string, ...any) {}
	}
	if err := r.openStore(ctx, opts); err != nil {
		r.Close()
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	return r, nil
}

func (r *Repo) openStore(ctx context.Context, opts Options) error {
	var be backend.Backend = opts.Store
	if be == nil {
		lb, err := local.New(filepath.Join(r.dir, storeDir))
		if err != nil {
			return err
		}
		be = lb
	}
	r.be = be
	if opts.WrapBackend != nil {
		r.be = opts.WrapBackend(be)
	}
	b, err := be.Get(ctx, configName)
	if err != nil {
		return err
	}
	cfg, err := format.DecodeConfig(b)
	if err != nil {
		return err
	}
	r.cfg = *cfg
	if cfg.Encryption != "" {
		if err := r.openEncrypted(ctx, opts); err != nil {
			return err
		}
	}
	if opts.CacheBytes <= 0 {
		opts.CacheBytes = 64 << 20
	}
	r.cache = newBlobCache(opts.CacheBytes)
	r.fetchTimeout = opts.FetchTimeout
	if r.fetchTimeout <= 0 {
		r.fetchTimeout = DefaultFetchTimeout
	}
	return nil
}

func (r *Repo) openCatalog(create bool) error {
	var err error
	catDir := filepath.Join(r.dir, catalogDir)
	if _, err := os.Stat(catDir); errors.Is(err, fs.ErrNotExist) && !create {
		return fmt.Errorf("catalog is missing: run vmarchive catalog rebuild: %w", ErrNotFound)
	}
	if r.db, err = openPebble(catDir, r.readOnly); err != nil {
		return err
	}
	return r.checkSchema(create)
}

// Close releases the catalog and the lock.
func (r *Repo) Close() error {
	if r.locks != nil {
		r.locks.close()
	}
	if r.chunks != nil {
		r.chunks.c.Close() // its queued writes done
	}
	var err error
	if r.db != nil {
		err = r.db.Close()
		r.db = nil
	}
	if r.lock != nil {
		r.lock.Close()
		r.lock = nil
	}
	return err
}

// Config returns the repository configuration.
func (r *Repo) Config() Config { return r.cfg }

// ReadOnly reports whether the repository was opened with Options.ReadOnly.
func (r *Repo) ReadOnly() bool { return r.readOnly }

// Dir returns the repository directory.
func (r *Repo) Dir() string { return r.dir }

// Backend returns the store's backend.
func (r *Repo) Backend() backend.Backend { return r.be }

// remoteStoreWorkers is how many chunks an ingest into an object store
// compresses and uploads at once: each upload waits for the server, so
// one per core left both cores idle for most of an ingest into versitygw.
const remoteStoreWorkers = 8

// StoreWorkers is how many chunks an ingest should store at once by
// default: one per core into a local directory, more into an object
// store.
func (r *Repo) StoreWorkers() int {
	return max(runtime.GOMAXPROCS(0), r.storeWorkers)
}

// ControlPath is the unix socket on which the process holding the
// repository in dir serves other commands (package control). It sits in
// its own owner-only directory, so it is never reachable by others, even
// for the moment between its creation and a chmod.
func ControlPath(dir string) string { return filepath.Join(dir, "control", "ctl.sock") }

// APIPath is the unix socket of `vmarchive serve`'s typed API, beside
// the control socket in the same owner-only directory.
func APIPath(dir string) string { return filepath.Join(dir, "control", "api.sock") }
