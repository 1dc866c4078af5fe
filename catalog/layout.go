package catalog

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// A repository is its owner's alone: directories 0700 and files 0600,
// whatever the umask, so another local user reads no guest file name or
// host path from the catalog and no data from the store. Nothing inside it
// is a symbolic link: one planted there (at lock, catalog, store/data/<hh>)
// would make commands write or delete outside the repository.

const (
	dirMode  = 0o700
	fileMode = 0o600
)

// checkLayout refuses symbolic links among the repository's own entries and
// the catalog's files, and tightens looser modes of the directories and the
// catalog's files (repositories made by older versions, or under umask 0).
func checkLayout(dir string) error {
	if err := private(dir, dirMode); err != nil {
		return err
	}
	for _, name := range []string{lockFile, storeDir, catalogDir, filepath.Join(storeDir, configName), filepath.Join(storeDir, "data"), filepath.Join(storeDir, "points"), filepath.Join(storeDir, "keys")} {
		if err := noSymlink(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	for _, d := range []string{storeDir, catalogDir} {
		if err := private(filepath.Join(dir, d), dirMode); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	if err := private(filepath.Join(dir, lockFile), fileMode); err != nil && !os.IsNotExist(err) {
		return err
	}
	cat := filepath.Join(dir, catalogDir)
	ents, err := os.ReadDir(cat)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read catalog directory: %w", err)
	}
	for _, e := range ents {
		p := filepath.Join(cat, e.Name())
		if e.Type()&fs.ModeSymlink != 0 {
			return symlinkError(p)
		}
		if e.Type().IsRegular() {
			if err := private(p, fileMode); err != nil {
				return err
			}
		}
	}
	return nil
}

// private gives p exactly mode when it is looser.
func private(p string, mode fs.FileMode) error {
	fi, err := os.Stat(p) // REPO itself may be a symlink; inner links are refused before
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&^mode != 0 {
		if err := os.Chmod(p, mode); err != nil {
			return fmt.Errorf("make %s private: %w", p, err)
		}
	}
	return nil
}

func noSymlink(p string) error {
	fi, err := os.Lstat(p)
	if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return symlinkError(p)
	}
	return nil
}

func symlinkError(p string) error {
	return fmt.Errorf("%s is a symbolic link: a repository holds none (one planted there would redirect writes outside it); remove it", p)
}

// privateFS is the vfs pebble writes the catalog through: what it creates
// is owner-only whatever the umask (the catalog directory is 0700 first,
// so no one else reaches a file in the moment before its chmod).
type privateFS struct{ vfs.FS }

var _ vfs.FS = privateFS{}

func (p privateFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return chmodFile(p.FS.Create(name, c))(name)
}

func (p privateFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	return chmodFile(p.FS.OpenReadWrite(name, c, opts...))(name)
}

func (p privateFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return chmodFile(p.FS.ReuseForWrite(oldname, newname, c))(newname)
}

func (p privateFS) MkdirAll(dir string, _ os.FileMode) error {
	if err := p.FS.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	return os.Chmod(dir, dirMode)
}

func (p privateFS) Lock(name string) (io.Closer, error) {
	c, err := p.FS.Lock(name)
	if err == nil {
		err = os.Chmod(name, fileMode)
	}
	return c, err
}

func chmodFile(f vfs.File, err error) func(string) (vfs.File, error) {
	return func(name string) (vfs.File, error) {
		if err != nil {
			return nil, err
		}
		if err := os.Chmod(name, fileMode); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
}
