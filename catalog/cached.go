package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"github.com/vmarchive/vmarchive/catalog/backend"
	"github.com/vmarchive/vmarchive/catalog/backend/local"
	"github.com/vmarchive/vmarchive/catalog/backend/s3"
	"github.com/vmarchive/vmarchive/catalog/format"
)

// A repository in an object store keeps its catalog on the host, as a
// cache of the store (the store is the truth): in CacheDir(root, id),
// beside the lock and the control socket. A host without it (a new one,
// or one whose cache was lost) builds it from the store on first open.

// buildingMark exists in a cache directory while its catalog is built: a
// catalog found with it was cut short and is built again.
const buildingMark = "catalog.building"

var repoIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// DefaultCacheRoot is where catalogs of object-store repositories go by
// default: $XDG_CACHE_HOME/vmarchive, else ~/.cache/vmarchive.
func DefaultCacheRoot() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for the catalog (set XDG_CACHE_HOME or --cache-dir): %w", err)
	}
	return filepath.Join(d, "vmarchive"), nil
}

// CacheDir is the directory of the cached catalog of repository id.
func CacheDir(root, id string) string { return filepath.Join(root, id) }

// Attach prepares opening the repository at loc: it returns the directory
// to give Open (and Rebuild, ControlPath), and for an object store sets
// opts.Store and reads the repository id to find (or make) the cache
// under cacheRoot.
func Attach(ctx context.Context, loc Location, cacheRoot string, opts *Options) (string, error) {
	if loc.Scheme != "s3" {
		return loc.Path, nil
	}
	be, err := s3.New(ctx, loc.S3)
	if err != nil {
		return "", err
	}
	b, err := be.Get(ctx, configName)
	if errors.Is(err, backend.ErrNotFound) {
		return "", fmt.Errorf("open repository %s: no repository here (run vmarchive init): %w", loc, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("open repository %s: %w", loc, err)
	}
	cfg, err := format.DecodeConfig(b)
	if err != nil {
		return "", fmt.Errorf("open repository %s: %w", loc, err)
	}
	if !repoIDPattern.MatchString(cfg.ID) {
		return "", fmt.Errorf("open repository %s: config holds an invalid repository id %q: %w", loc, cfg.ID, ErrCorrupt)
	}
	dir := CacheDir(cacheRoot, cfg.ID)
	if err := os.MkdirAll(dir, dirMode); err != nil { // a new host's, for Open and Rebuild
		return "", fmt.Errorf("catalog cache: %w", err)
	}
	opts.Store = be
	return dir, nil
}

// AttachInit is Attach for Init: for an object store it sets opts.Store
// and returns cacheRoot, under which Init puts the new catalog.
func AttachInit(ctx context.Context, loc Location, cacheRoot string, opts *InitOptions) (string, error) {
	if loc.Scheme != "s3" {
		return loc.Path, nil
	}
	be, err := s3.New(ctx, loc.S3)
	if err != nil {
		return "", err
	}
	opts.Store = be
	return cacheRoot, nil
}

// initStore makes the store of a new repository: REPO/store, or the
// object store given, which must hold no config yet. It returns the
// store and the directory of lock and catalog.
func initStore(ctx context.Context, dir, id string, store backend.Backend) (backend.Backend, string, error) {
	if store != nil {
		if _, err := store.Get(ctx, configName); err == nil {
			return nil, "", fmt.Errorf("init: the store already holds a repository: %w", ErrExists)
		} else if !errors.Is(err, backend.ErrNotFound) {
			return nil, "", fmt.Errorf("init: %w", err)
		}
		dir = CacheDir(dir, id)
		if err := os.MkdirAll(dir, dirMode); err != nil {
			return nil, "", fmt.Errorf("init: %w", err)
		}
		return store, dir, nil
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return nil, "", fmt.Errorf("init %s: directory is not empty: %w", dir, ErrExists)
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, "", fmt.Errorf("init: %w", err)
	}
	// An existing empty directory becomes the owner's alone (layout.go).
	if err := os.Chmod(dir, dirMode); err != nil {
		return nil, "", fmt.Errorf("init: %w", err)
	}
	be, err := local.New(filepath.Join(dir, storeDir))
	if err != nil {
		return nil, "", err
	}
	// The 256 directories objects go to (data/<hh>, format.ObjectName)
	// are made now, as restic's init does: a first ingest made each one
	// after a failed create, beside its work.
	for i := range 256 {
		if err := os.MkdirAll(filepath.Join(dir, storeDir, "data", fmt.Sprintf("%02x", i)), dirMode); err != nil {
			return nil, "", fmt.Errorf("init: %w", err)
		}
	}
	return be, dir, nil
}

// putConfig stores the config that makes the repository exist and reads
// it back: a Put that found an object there (another host's init racing
// this one) keeps that object, which must not pass for ours.
func putConfig(ctx context.Context, be backend.Backend, b []byte) error {
	if err := be.Put(ctx, configName, b); err != nil {
		return err
	}
	if err := backend.Sync(ctx, be); err != nil {
		return err
	}
	got, err := be.Get(ctx, configName)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, b) {
		return fmt.Errorf("another repository was created in the store at the same time: %w", ErrExists)
	}
	return nil
}

// openCached opens a repository whose store is opts.Store and whose dir
// holds the cached catalog, building the catalog when it is missing.
func openCached(ctx context.Context, dir string, opts Options, create bool) (*Repo, error) {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("open catalog cache: %w", err)
	}
	if err := checkLayout(dir); err != nil {
		return nil, fmt.Errorf("open catalog cache %s: %w", dir, err)
	}
	lock, err := lockRepo(filepath.Join(dir, lockFile), opts.Command)
	if err != nil {
		return nil, fmt.Errorf("open catalog cache %s: %w", dir, err)
	}
	r, err := openStore(ctx, dir, lock, opts, create)
	if err != nil {
		return nil, err
	}
	if filepath.Base(dir) != r.cfg.ID {
		r.Close()
		return nil, fmt.Errorf("catalog cache %s is not the one of repository %s", dir, r.cfg.ID)
	}
	r.shared = true
	r.locks = newBucketLocks(r, opts.LockLease)
	r.readahead, r.prefetchSem = remoteReadahead, make(chan struct{}, remoteReadahead)
	r.storeWorkers = remoteStoreWorkers
	if err := r.openChunkCache(opts.ChunkCacheBytes); err != nil {
		r.Close()
		return nil, fmt.Errorf("open catalog cache %s: %w", dir, err)
	}
	if err := r.openCachedCatalog(ctx, create); err != nil {
		r.Close()
		return nil, fmt.Errorf("open catalog cache %s: %w", dir, err)
	}
	if opts.Refresh && !create {
		if err := r.refreshOnOpen(ctx); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

func (r *Repo) openCachedCatalog(ctx context.Context, create bool) error {
	mark := filepath.Join(r.dir, buildingMark)
	_, err := os.Stat(filepath.Join(r.dir, catalogDir))
	_, markErr := os.Stat(mark)
	if create || (err == nil && errors.Is(markErr, fs.ErrNotExist)) {
		return r.openCatalog(create)
	}
	if err := os.WriteFile(mark, nil, fileMode); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(r.dir, catalogDir)); err != nil {
		return err
	}
	readOnly := r.readOnly
	r.readOnly = false
	if err := r.openCatalog(true); err != nil {
		return err
	}
	if _, err := r.rebuild(ctx); err != nil {
		return fmt.Errorf("build the catalog from the store: %w", err)
	}
	if err := os.Remove(mark); err != nil {
		return err
	}
	if !readOnly {
		return nil
	}
	return r.reopenCatalog(true)
}

// refreshOnOpen refreshes the catalog just opened. A read-only one is
// opened for writing meanwhile, as a build is; if that or the refresh
// fails, a reader goes on with the cache as it is (say, on a full disk).
func (r *Repo) refreshOnOpen(ctx context.Context) error {
	if !r.readOnly {
		res, err := r.Refresh(ctx)
		if err == nil {
			logWarnings(res, r.logf)
		}
		return err
	}
	err := r.reopenCatalog(false)
	if err == nil {
		var res *RefreshResult
		if res, err = r.Refresh(ctx); err == nil {
			logWarnings(res, r.logf)
		}
	}
	if err != nil {
		r.logf("showing the catalog cache as it is: %v", err)
	}
	return r.reopenCatalog(true)
}

func logWarnings(res *RefreshResult, logf func(string, ...any)) {
	for _, w := range res.Warnings {
		logf("%s", w)
	}
}

// reopenCatalog closes the catalog and opens it again, read-only or not.
func (r *Repo) reopenCatalog(readOnly bool) error {
	var err error
	if r.db != nil {
		err = r.db.Close()
	}
	r.db, r.readOnly = nil, readOnly
	if err != nil {
		return err
	}
	return r.openCatalog(false)
}
