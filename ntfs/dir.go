package ntfs

import (
	"errors"
	"fmt"
	iofs "io/fs"
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
// files below record 16 are left out, as ntfs-3g does.
func (fs *FS) ReadDir(ino uint64) ([]DirEntry, error) {
	_, ix, err := fs.dirIndex(ino)
	if err != nil {
		return nil, err
	}
	var out []DirEntry
	err = ix.walk(func(e *indexEntry) error {
		f, err := decodeFileName(e.Key)
		if err != nil {
			return fmt.Errorf("directory %d: %w", ino, err)
		}
		rec, _ := mref(e.Ref)
		if f.Namespace == nsDOS || rec == ino || rec <= 1 || (rec < firstUserRecord && !fs.opts.ShowSystemFiles) {
			return nil
		}
		de, err := fs.dirEntry(rec, f)
		if err != nil {
			return err
		}
		out = append(out, de)
		return nil
	})
	return out, err
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
			return de, fmt.Errorf("entry %q: %w", de.Name, err)
		}
		de.Mode = at.Mode &^ 0o7777
	case f.Attributes&faI30Index != 0:
		de.Mode = sIFDIR
	}
	return de, nil
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
	f, err := decodeFileName(e.Key)
	if err != nil {
		return DirEntry{}, err
	}
	rec, _ := mref(e.Ref)
	if rec <= 1 {
		return DirEntry{}, fmt.Errorf("lookup %q in directory %d: %w", name, dir, iofs.ErrNotExist)
	}
	de, err := fs.dirEntry(rec, f)
	de.Name = name
	if err == nil {
		de.Name = f.String()
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
