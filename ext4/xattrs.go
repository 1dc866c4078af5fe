package ext4

import (
	"encoding/binary"
	"errors"
	"fmt"
	iofs "io/fs"
	"strings"
)

// xattrSource is one entry list: the inode body or an external block.
type xattrSource struct {
	entries []xattrEntry
	base    []byte // values are at base[e_value_offs:]
}

// xattrSources decodes the in-inode and block entry lists of an inode, in
// the order Linux lists them (inode body first).
func (fs *FS) xattrSources(ino uint64, in *inode) ([]xattrSource, error) {
	var out []xattrSource
	le := binary.LittleEndian
	if len(in.extra) >= xattrIbodyHeaderSize && le.Uint32(in.extra) == xattrMagic {
		body := in.extra[xattrIbodyHeaderSize:]
		es, err := parseXattrEntries(body)
		if err != nil {
			return nil, fmt.Errorf("inode %d: in-inode xattrs: %w", ino, err)
		}
		out = append(out, xattrSource{es, body})
	}
	if in.fileACL != 0 {
		b, err := fs.xattrBlock(in.fileACL)
		if err != nil {
			return nil, fmt.Errorf("inode %d: %w", ino, err)
		}
		es, err := parseXattrEntries(b[xattrBlockHeaderSize:])
		if err != nil {
			return nil, fmt.Errorf("inode %d: xattr block %d: %w", ino, in.fileACL, err)
		}
		out = append(out, xattrSource{es, b})
	}
	return out, nil
}

// xattrBlock reads and verifies an external xattr block.
func (fs *FS) xattrBlock(blk uint64) ([]byte, error) {
	b, err := fs.readBlock(blk)
	if err != nil {
		return nil, fmt.Errorf("xattr block %d: %w", blk, err)
	}
	le := binary.LittleEndian
	if m := le.Uint32(b); m != xattrMagic {
		return nil, corruptf("xattr block %d: magic %#08x, want %#08x", blk, m, xattrMagic)
	}
	if n := le.Uint32(b[8:]); n != 1 {
		return nil, corruptf("xattr block %d: h_blocks %d, want 1", blk, n)
	}
	if fs.sb.hasMetadataCsum() && !fs.opts.IgnoreChecksums {
		want := le.Uint32(b[xattrBlockCsumOffset:])
		c := append([]byte(nil), b...)
		le.PutUint32(c[xattrBlockCsumOffset:], 0)
		var nb [8]byte
		le.PutUint64(nb[:], blk)
		if got := crc32c(crc32c(fs.csumSeed, nb[:]), c); got != want {
			return nil, corruptf("xattr block %d: checksum %#08x, computed %#08x", blk, want, got)
		}
	}
	return b, nil
}

// getXattrRaw returns the stored value of the xattr (index, name).
func (fs *FS) getXattrRaw(ino uint64, in *inode, index uint8, name string) ([]byte, error) {
	srcs, err := fs.xattrSources(ino, in)
	if err != nil {
		return nil, err
	}
	for _, s := range srcs {
		for _, e := range s.entries {
			if e.nameIndex == index && e.name == name {
				return fs.xattrValue(ino, s, e)
			}
		}
	}
	return nil, fmt.Errorf("inode %d: xattr index %d name %q: %w", ino, index, name, iofs.ErrNotExist)
}

// xattrValue returns the raw value of e, following an EA inode reference.
func (fs *FS) xattrValue(ino uint64, s xattrSource, e xattrEntry) ([]byte, error) {
	if e.valueInum == 0 {
		v, err := xattrValue(s.base, e)
		if err != nil {
			return nil, fmt.Errorf("inode %d: %w", ino, err)
		}
		return append([]byte(nil), v...), nil
	}
	if fs.sb.featureIncompat&incompatEAInode == 0 {
		return nil, fmt.Errorf("inode %d: %w", ino, corruptf("xattr %q in EA inode %d without the ea_inode feature", e.fullName(), e.valueInum))
	}
	ea, err := fs.inode(uint64(e.valueInum))
	if err != nil {
		return nil, fmt.Errorf("inode %d: xattr %q: EA inode: %w", ino, e.fullName(), err)
	}
	if ea.flags&inodeFlagEAInode == 0 || ea.size != uint64(e.valueSize) {
		return nil, fmt.Errorf("inode %d: %w", ino, corruptf("xattr %q: inode %d is not its EA inode (flags %#x, size %d, want %d)", e.fullName(), e.valueInum, ea.flags, ea.size, e.valueSize))
	}
	f, err := fs.openInode(uint64(e.valueInum), ea)
	if err != nil {
		return nil, err
	}
	v := make([]byte, e.valueSize)
	if _, err := f.ReadAt(v, 0); err != nil && len(v) > 0 {
		return nil, fmt.Errorf("inode %d: xattr %q: EA inode %d: %w", ino, e.fullName(), e.valueInum, err)
	}
	return v, nil
}

// hiddenXattr reports whether Linux hides an index from listxattr:
// system.data (inline data) and the fscrypt context.
func hiddenXattr(index uint8) bool {
	return index == xattrIndexSystem || index == xattrIndexEncryption || index == xattrIndexRichACL
}

// ListXattr lists the extended attribute names of inode ino as
// listxattr(2) on Linux shows them (for a privileged caller).
func (fs *FS) ListXattr(ino uint64) ([]string, error) {
	in, err := fs.inode(ino)
	if err != nil {
		return nil, err
	}
	srcs, err := fs.xattrSources(ino, in)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range srcs {
		for _, e := range s.entries {
			if n := e.fullName(); n != "" && !hiddenXattr(e.nameIndex) {
				names = append(names, n)
			}
		}
	}
	return names, nil
}

// GetXattr returns the value of the extended attribute name of inode ino.
// POSIX ACLs are returned in the Linux xattr format (version 2). A missing
// attribute gives an error wrapping io/fs.ErrNotExist.
func (fs *FS) GetXattr(ino uint64, name string) ([]byte, error) {
	in, err := fs.inode(ino)
	if err != nil {
		return nil, err
	}
	index, suffix, ok := splitXattrName(name)
	if !ok || hiddenXattr(index) {
		return nil, fmt.Errorf("inode %d: xattr %q: %w", ino, name, iofs.ErrNotExist)
	}
	v, err := fs.getXattrRaw(ino, in, index, suffix)
	if err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			return nil, fmt.Errorf("inode %d: xattr %q: %w", ino, name, iofs.ErrNotExist)
		}
		return nil, err
	}
	if index == xattrIndexACLAccess || index == xattrIndexACLDefault {
		v, err = ext4ACLToXattr(v)
		if err != nil {
			return nil, fmt.Errorf("inode %d: xattr %q: %w", ino, name, err)
		}
	}
	return v, nil
}

// splitXattrName maps a full name to its on-disk index and suffix.
func splitXattrName(name string) (uint8, string, bool) {
	switch name {
	case xattrNameACLAccess:
		return xattrIndexACLAccess, "", true
	case xattrNameACLDefault:
		return xattrIndexACLDefault, "", true
	}
	for _, idx := range []uint8{xattrIndexUser, xattrIndexTrusted, xattrIndexSecurity, xattrIndexSystem, xattrIndexHurd} {
		if p := xattrPrefixes[idx]; strings.HasPrefix(name, p) && len(name) > len(p) {
			return idx, name[len(p):], true
		}
	}
	return 0, "", false
}

func isNotExist(err error) bool { return errors.Is(err, iofs.ErrNotExist) }
