package ntfs

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"slices"
	"strings"
	"unicode/utf16"
)

// dirIndex opens the $I30 index of directory ino.
func (fs *FS) dirIndex(ino uint64) (*inode, *index, error) {
	n, err := fs.inode(ino)
	if err != nil {
		return nil, nil, err
	}
	if !n.isDir() {
		return nil, nil, fmt.Errorf("MFT record %d: %w", ino, errNotDir)
	}
	n.i30Once.Do(func() { n.i30, n.i30Err = fs.openIndex(n, "$I30", false) })
	return n, n.i30, n.i30Err
}

// ReadDir lists directory ino in collation order, without "." and "..".
// DOS-only 8.3 aliases and (unless Options.ShowSystemFiles) the metadata
// files below record 16 are left out, as ntfs-3g does. A damaged entry
// (see FS.Damage) is left out too, and the rest of the directory read.
func (fs *FS) ReadDir(ino uint64) ([]DirEntry, error) {
	_, ix, err := fs.dirIndex(ino)
	if err != nil {
		return nil, err
	}
	var out []DirEntry
	err = ix.walk(func(e *indexEntry) error {
		de, ok, err := fs.listEntry(ino, e, true)
		if ok {
			out = append(out, de)
		}
		return err
	})
	return out, err
}

// listEntry decodes one index entry of directory dir; ok is false for an
// entry not listed: hidden, or damaged and noted in fs.damage.
func (fs *FS) listEntry(dir uint64, e *indexEntry, hide bool) (de DirEntry, ok bool, err error) {
	f, err := decodeFileName(e.Key)
	rec, _ := mref(e.Ref)
	if err != nil {
		fs.damage.add(dir, fmt.Sprintf("directory %d: entry for MFT record %d skipped: %v", dir, rec, err))
		return de, false, nil
	}
	if hide && (f.Namespace == nsDOS || rec == dir || rec <= 1 || (rec < firstUserRecord && !fs.opts.ShowSystemFiles)) {
		return de, false, nil
	}
	if why := fs.badEntry(rec, f); why != "" {
		fs.damage.add(dir, fmt.Sprintf("directory %d: entry %q (MFT record %d) skipped: %s", dir, f.String(), rec, why))
		return de, false, nil
	}
	de, err = fs.dirEntry(rec, f)
	if errors.Is(err, ErrCorrupt) || isNotExist(err) {
		fs.damage.add(dir, fmt.Sprintf("directory %d: entry %q (MFT record %d) skipped: %v", dir, f.String(), rec, err))
		return de, false, nil
	}
	if err != nil {
		return de, false, fmt.Errorf("directory %d: entry %q: %w", dir, f.String(), err)
	}
	return de, true, nil
}

// dirEntry builds an entry from an index key, reading the inode only when
// the duplicated attributes cannot tell the type (reparse points and
// Interix special files).
func (fs *FS) dirEntry(rec uint64, f fileName) (DirEntry, error) {
	de := DirEntry{Name: f.String(), Ino: rec, Mode: sIFREG}
	switch {
	case f.Attributes&faReparse != 0 || f.Attributes&(faSystem|faI30Index) == faSystem:
		at, err := fs.Stat(rec)
		if err != nil {
			return de, err
		}
		de.Mode = at.Mode &^ 0o7777
	case f.Attributes&faI30Index != 0:
		de.Mode = sIFDIR
	}
	return de, nil
}

// badEntry says why an entry cannot be listed, or "" when it can: no path
// can carry an empty name, a "/" or a NUL (nor can NTFS, even in the POSIX
// namespace), and a reference past $MFT names no record.
func (fs *FS) badEntry(rec uint64, f fileName) string {
	switch {
	case len(f.Name) == 0:
		return "empty name"
	case slices.Contains(f.Name, '/'):
		return `name contains "/"`
	case slices.Contains(f.Name, 0):
		return "name contains a NUL"
	case rec >= uint64(fs.mftRecords):
		return fmt.Sprintf("MFT record past the %d records of $MFT", fs.mftRecords)
	}
	return ""
}

// Lookup finds name in directory dir by walking the index B+tree. An exact
// match wins; otherwise (unless Options.CaseSensitive) a name that differs
// only by case matches, except POSIX-namespace names, which are case
// sensitive. DOS 8.3 aliases can be looked up too.
func (fs *FS) Lookup(dir uint64, name string) (DirEntry, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return DirEntry{}, fmt.Errorf("lookup %q in directory %d: %w", name, dir, iofs.ErrNotExist)
	}
	_, ix, err := fs.dirIndex(dir)
	if err != nil {
		return DirEntry{}, err
	}
	e, err := fs.lookupName(ix, utf16.Encode([]rune(name)))
	if err != nil {
		return DirEntry{}, fmt.Errorf("lookup %q in directory %d: %w", name, dir, err)
	}
	if rec, _ := mref(e.Ref); rec <= 1 {
		return DirEntry{}, fmt.Errorf("lookup %q in directory %d: %w", name, dir, iofs.ErrNotExist)
	}
	de, ok, err := fs.listEntry(dir, e, false)
	if err == nil && !ok {
		err = fmt.Errorf("lookup %q in directory %d: entry left out as damaged: %w", name, dir, iofs.ErrNotExist)
	}
	return de, err
}

// lookupName searches an $I30 index for a UTF-16 name.
func (fs *FS) lookupName(ix *index, u []uint16) (*indexEntry, error) {
	keyName := func(key []byte) []byte {
		if len(key) < 0x42 || 0x42+2*int(key[0x40]) > len(key) {
			return nil
		}
		return key[0x42 : 0x42+2*int(key[0x40])]
	}
	exact := func(key []byte) int { return upcaseCompareKey(u, keyName(key), fs.upcase, true) }
	e, err := ix.search(exact, func(*indexEntry) bool { return true })
	if err == nil || fs.opts.CaseSensitive || !isNotExist(err) {
		return e, err
	}
	fold := func(key []byte) int { return upcaseCompareKey(u, keyName(key), fs.upcase, false) }
	return ix.search(fold, func(e *indexEntry) bool { return len(e.Key) > 0x41 && e.Key[0x41] != nsPOSIX })
}

func isNotExist(err error) bool { return errors.Is(err, iofs.ErrNotExist) }
