package ntfs

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"
)

// reparseTarget returns the symlink target of a junction or symbolic-link
// reparse point, translated as ntfs-3g translates it (ntfs_make_symlink):
// targets on this volume become paths under Options.MountPoint with the
// on-disk case, other drives go to MountPoint/.NTFS-3G/, and anything it
// cannot translate reads "unsupported reparse tag 0x...".
func (fs *FS) reparseTarget(n *inode) (string, error) {
	tag, v, err := fs.reparse(n)
	if err != nil {
		return "", err
	}
	bad := fmt.Sprintf("unsupported reparse tag 0x%08x", tag)
	subst, flags, ok := decodeLinkReparse(v)
	if !ok {
		return bad, nil
	}
	var t string
	switch tag {
	case tagMountPoint:
		t, ok = fs.fullLink(subst, n.isDir())
	case tagSymlink:
		relative := flags&1 != 0
		switch {
		case len(subst) >= 2 && subst[0] == '\\' && (subst[1] == '?' || subst[1] == '\\'):
			if !relative {
				t, ok = fs.fullLink(subst, n.isDir())
			} else {
				ok = false
			}
		case len(subst) >= 1 && subst[0] == '\\' || len(subst) >= 2 && subst[1] == ':':
			if relative {
				t, ok = fs.absLink(subst, n.isDir())
			} else {
				ok = false
			}
		default:
			if relative {
				t, ok = fs.relLink(n, subst)
			} else {
				ok = false
			}
		}
	default:
		ok = false
	}
	if !ok {
		return bad, nil
	}
	return t, nil
}

// decodeLinkReparse extracts the substitute name of a mount-point or
// symlink reparse buffer (REPARSE_POINT + MOUNT_POINT/SYMLINK_REPARSE_DATA).
func decodeLinkReparse(v []byte) ([]uint16, uint32, bool) {
	if len(v) < 16 {
		return nil, 0, false
	}
	tag := binary.LittleEndian.Uint32(v)
	dlen := int(binary.LittleEndian.Uint16(v[4:]))
	if 8+dlen != len(v) {
		return nil, 0, false
	}
	d := v[8:]
	off := int(binary.LittleEndian.Uint16(d))
	l := int(binary.LittleEndian.Uint16(d[2:]))
	hdr := 8
	var flags uint32
	if tag == tagSymlink {
		if len(d) < 12 {
			return nil, 0, false
		}
		flags = binary.LittleEndian.Uint32(d[8:])
		hdr = 12
	}
	if hdr+off+l > len(d) || l < 2 {
		return nil, 0, false
	}
	return decodeUTF16(d[hdr+off : hdr+off+l]), flags, true
}

func u16s(s string) []uint16  { return utf16.Encode([]rune(s)) }
func str16(u []uint16) string { return string(utf16.Decode(u)) }

// fullLink translates \??\X:\path and \??\Volume{...}\ targets.
func (fs *FS) fullLink(j []uint16, isDir bool) (string, bool) {
	mnt := fs.opts.MountPoint
	s := str16(j)
	switch {
	case len(j) >= 7 && strings.HasPrefix(s, `\??\`) && j[4] != 0 && j[5] == ':' && j[6] == '\\':
		if len(j) > 7 {
			if t, ok := fs.searchAbsolute(j[7:], isDir); ok {
				return mnt + "/" + t, true
			}
		}
		return mnt + "/.NTFS-3G/" + driveTarget(j[4:]), true
	case len(j) >= 12 && strings.HasPrefix(s, `\??\Volume{`) && j[len(j)-1] == '\\':
		return mnt + "/.NTFS-3G/" + driveTarget(j[4:len(j)-1]), true
	}
	return "", false
}

// absLink translates X:\path and \path symlink targets.
func (fs *FS) absLink(j []uint16, isDir bool) (string, bool) {
	mnt := fs.opts.MountPoint
	switch {
	case len(j) >= 3 && j[0] != 0 && j[1] == ':' && j[2] == '\\':
		if len(j) > 3 {
			if t, ok := fs.searchAbsolute(j[3:], isDir); ok {
				return mnt + "/" + t, true
			}
		}
		return mnt + "/.NTFS-3G/" + driveTarget(j), true
	case len(j) >= 1 && j[0] == '\\':
		if t, ok := fs.searchAbsolute(j[1:], isDir); ok {
			return mnt + "/" + t, true
		}
	}
	return "", false
}

// driveTarget turns X:\a\b into X:/a/b with an upper-case drive letter.
func driveTarget(j []uint16) string {
	s := strings.ReplaceAll(str16(j), `\`, "/")
	if len(s) >= 2 && s[1] == ':' && s[0] >= 'a' && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	return s
}

// fixName finds a name case-insensitively in a directory and returns the
// record and the name as stored (ntfs_fix_file_name).
func (fs *FS) fixName(dir uint64, name []uint16) (uint64, []uint16, bool) {
	_, ix, err := fs.dirIndex(dir)
	if err != nil {
		return 0, nil, false
	}
	fold := func(key []byte) int {
		if len(key) < 0x42 || 0x42+2*int(key[0x40]) > len(key) {
			return -1
		}
		return upcaseCompare(name, decodeUTF16(key[0x42:0x42+2*int(key[0x40])]), fs.upcase, false)
	}
	e, err := ix.search(fold, func(*indexEntry) bool { return true })
	if err != nil {
		return 0, nil, false
	}
	f, err := decodeFileName(e.Key)
	if err != nil {
		return 0, nil, false
	}
	rec, _ := mref(e.Ref)
	return rec, f.Name, true
}

// searchAbsolute resolves a backslash path from the root, fixing the case
// of each component (search_absolute in ntfs-3g's reparse.c).
func (fs *FS) searchAbsolute(path []uint16, isDir bool) (string, bool) {
	path = append([]uint16(nil), path...)
	cur := uint64(recordRoot)
	start := 0
	var n *inode
	for depth := 0; depth < 256; depth++ {
		l := 0
		for start+l < len(path) && path[start+l] != '\\' {
			l++
		}
		rec, fixed, ok := fs.fixName(cur, path[start:start+l])
		if !ok {
			return "", false
		}
		copy(path[start:], fixed[:min(len(fixed), l)])
		var err error
		if n, err = fs.inode(rec); err != nil {
			return "", false
		}
		start += l
		if start < len(path) {
			path[start] = '/'
			start++
		}
		si, err := n.stdInfo()
		if err != nil {
			return "", false
		}
		if !n.isDir() || si.Attributes&faReparse != 0 || start >= len(path) {
			if n.isDir() == isDir || si.Attributes&faReparse != 0 {
				return str16(path), true
			}
			return "", false
		}
		cur = rec
	}
	return "", false
}

// relLink resolves a relative symlink target from the link's directory,
// fixing case (search_relative in ntfs-3g's reparse.c).
func (fs *FS) relLink(n *inode, path []uint16) (string, bool) {
	path = append([]uint16(nil), path...)
	cur, ok := parentOf(n)
	if !ok {
		return "", false
	}
	pos := 0
	for max := 32; pos < len(path)-1 && max > 0; max-- {
		switch {
		case len(path) >= pos+2 && path[pos] == '.' && path[pos+1] == '\\':
			path[pos+1] = '/'
			pos += 2
		case len(path) >= pos+3 && path[pos] == '.' && path[pos+1] == '.' && path[pos+2] == '\\':
			path[pos+2] = '/'
			pos += 3
			d, err := fs.inode(cur)
			if err != nil {
				return "", false
			}
			if cur, ok = parentOf(d); !ok {
				return "", false
			}
		default:
			l := 0
			for pos+l < len(path) && path[pos+l] != '\\' {
				l++
			}
			if l == 0 {
				return "", false
			}
			rec, fixed, ok := fs.fixName(cur, path[pos:pos+l])
			if !ok {
				return "", false
			}
			copy(path[pos:], fixed[:min(len(fixed), l)])
			t, err := fs.inode(rec)
			if err != nil {
				return "", false
			}
			si, err := t.stdInfo()
			if err != nil {
				return "", false
			}
			if pos+l < len(path) {
				path[pos+l] = '/'
				pos += l + 1
				if si.Attributes&faReparse != 0 {
					return str16(path), true
				}
				cur = rec
			} else {
				pos += l
				if si.Attributes&faReparse == 0 && t.isDir() != n.isDir() {
					return "", false
				}
				return str16(path), true
			}
		}
	}
	return str16(path), true
}

// parentOf returns the directory of the first Win32 or POSIX name of n.
func parentOf(n *inode) (uint64, bool) {
	for _, f := range n.fileNames() {
		if f.Namespace != nsDOS {
			p, _ := mref(f.Parent)
			return p, true
		}
	}
	return 0, false
}

// Readlink returns the target of a symlink, junction or Interix symlink.
func (fs *FS) Readlink(ino uint64) (string, error) {
	n, err := fs.inode(ino)
	if err != nil {
		return "", err
	}
	si, err := n.stdInfo()
	if err != nil {
		return "", err
	}
	k, err := fs.kindOf(n, si)
	if err != nil {
		return "", err
	}
	if k.mode != sIFLNK {
		return "", fmt.Errorf("readlink inode %d: not a symbolic link", ino)
	}
	return k.link, nil
}
