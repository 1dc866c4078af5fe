package xfs

import (
	"encoding/binary"
	"fmt"
	iofs "io/fs"
)

// rawAttr is one extended attribute as stored: its namespace flags, name,
// and either its value or where its remote value is.
type rawAttr struct {
	flags  uint8
	name   string
	value  []byte // local value
	remote bool
	blk    uint32 // remote: first logical block in the attribute fork
	vlen   uint32 // remote: value length
}

const (
	attrLocal      = 0x01
	attrRoot       = 0x02 // trusted.
	attrSecure     = 0x04 // security.
	attrParent     = 0x08 // parent pointer: not an xattr
	attrIncomplete = 0x80

	aclFileName    = "SGI_ACL_FILE"
	aclDefaultName = "SGI_ACL_DEFAULT"
	aclAccessXattr = "system.posix_acl_access"
	aclDefaultXatt = "system.posix_acl_default"
)

// xattrName is the name the kernel lists for a stored attribute.
func xattrName(a rawAttr) string {
	switch {
	case a.flags&attrRoot != 0:
		return "trusted." + a.name
	case a.flags&attrSecure != 0:
		return "security." + a.name
	}
	return "user." + a.name
}

// aclAlias is the system.posix_acl_* name the kernel lists before a
// root-namespace ACL attribute, or "".
func aclAlias(a rawAttr) string {
	if a.flags&attrRoot == 0 {
		return ""
	}
	switch a.name {
	case aclFileName:
		return aclAccessXattr
	case aclDefaultName:
		return aclDefaultXatt
	}
	return ""
}

// ListXattr lists the extended attribute names of ino in the order the
// kernel does (to root): an ACL shows as system.posix_acl_* and then
// under its own trusted.SGI_ACL_* name.
func (fs *FS) ListXattr(ino uint64) ([]string, error) {
	as, err := fs.attrs(ino)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range as {
		if s := aclAlias(a); s != "" {
			out = append(out, s)
		}
		out = append(out, xattrName(a))
	}
	return out, nil
}

// GetXattr returns the value of attribute name of ino; POSIX ACLs come
// in the Linux xattr format. A missing name wraps io/fs.ErrNotExist.
func (fs *FS) GetXattr(ino uint64, name string) ([]byte, error) {
	as, err := fs.attrs(ino)
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		if xattrName(a) == name {
			return fs.attrValue(ino, a)
		}
		if aclAlias(a) == name {
			v, err := fs.attrValue(ino, a)
			if err != nil {
				return nil, err
			}
			x, err := aclToXattr(v)
			if err != nil {
				return nil, fmt.Errorf("inode %d: %s: %w", ino, name, err)
			}
			return x, nil
		}
	}
	return nil, fmt.Errorf("inode %d: xattr %q: %w", ino, name, iofs.ErrNotExist)
}

// attrs lists the stored attributes of ino, without parent pointers and
// half-written ones.
func (fs *FS) attrs(ino uint64) ([]rawAttr, error) {
	in, err := fs.inode(ino)
	if err != nil {
		return nil, err
	}
	if in.attrFork == nil {
		return nil, nil
	}
	var as []rawAttr
	switch in.aformat {
	case fmtLocal:
		as, err = shortformAttrs(in.ino, in.attrFork)
	case fmtExtents, fmtBtree:
		as, err = fs.leafAttrs(in)
	default:
		err = corruptf("inode %d: attribute fork format %d", ino, in.aformat)
	}
	if err != nil {
		return nil, err
	}
	kept := as[:0]
	for _, a := range as {
		if a.flags&(attrParent|attrIncomplete) == 0 {
			kept = append(kept, a)
		}
	}
	return kept, nil
}

// shortformAttrs decodes xfs_attr_sf_hdr (totsize, count) and its
// entries (namelen, valuelen, flags, name, value).
func shortformAttrs(ino uint64, b []byte) ([]rawAttr, error) {
	if len(b) < 4 {
		return nil, corruptf("inode %d: short form attributes in %d bytes", ino, len(b))
	}
	tot, count := int(binary.BigEndian.Uint16(b)), int(b[2])
	if tot < 4 || tot > len(b) {
		return nil, corruptf("inode %d: short form attributes of %d bytes in a %d-byte fork", ino, tot, len(b))
	}
	b = b[:tot]
	var out []rawAttr
	off := 4
	for i := 0; i < count; i++ {
		if off+3 > len(b) {
			return nil, corruptf("inode %d: short form attribute %d overruns %d bytes", ino, i, tot)
		}
		nl, vl, fl := int(b[off]), int(b[off+1]), b[off+2]
		end := off + 3 + nl + vl
		if end > len(b) || nl == 0 {
			return nil, corruptf("inode %d: short form attribute %d (name %d, value %d bytes) overruns %d bytes", ino, i, nl, vl, tot)
		}
		out = append(out, rawAttr{flags: fl, name: string(b[off+3 : off+3+nl]), value: b[off+3+nl : end]})
		off = end
	}
	return out, nil
}

// attrValue returns a's value, reading remote value blocks if needed.
func (fs *FS) attrValue(ino uint64, a rawAttr) ([]byte, error) {
	if !a.remote {
		return append([]byte(nil), a.value...), nil
	}
	in, err := fs.inode(ino)
	if err != nil {
		return nil, err
	}
	runs, err := fs.forkRuns(in, in.attrFork, in.aformat, in.anextents, "attribute")
	if err != nil {
		return nil, err
	}
	return fs.remoteValue(ino, runs, a)
}

func (fs *FS) remoteValue(ino uint64, runs []run, a rawAttr) ([]byte, error) {
	const maxValue = 1 << 16 // XATTR_SIZE_MAX
	if a.vlen > maxValue {
		return nil, corruptf("inode %d: attribute %q: remote value of %d bytes", ino, a.name, a.vlen)
	}
	bs, n := int(fs.sb.blockSize), int(a.vlen)
	per := bs
	if fs.sb.v5() {
		per = bs - symlinkHdr
	}
	nblk := (n + per - 1) / per
	what := fmt.Sprintf("inode %d attribute %q", ino, a.name)
	raw, err := fs.readFork(runs, uint64(a.blk), uint64(nblk), what)
	if err != nil {
		return nil, err
	}
	if !fs.sb.v5() {
		return raw[:n], nil
	}
	out := make([]byte, 0, n)
	for i := 0; i < nblk; i++ {
		b := raw[i*bs : (i+1)*bs]
		if err := fs.remoteHdr(b, attrRmtMagic, symlinkCRCOff, rmtOwnerOff, ino, fmt.Sprintf("%s value block %d", what, i)); err != nil {
			return nil, err
		}
		off, cnt := int(binary.BigEndian.Uint32(b[4:])), int(binary.BigEndian.Uint32(b[8:]))
		if off != len(out) || cnt > per || cnt > n-len(out) {
			return nil, corruptf("%s value block %d: %d bytes at %d, expected at %d", what, i, cnt, off, len(out))
		}
		out = append(out, b[symlinkHdr:symlinkHdr+cnt]...)
	}
	if len(out) != n {
		return nil, corruptf("%s: %d of %d value bytes found", what, len(out), n)
	}
	return out, nil
}

// aclToXattr converts an on-disk struct xfs_acl (big-endian count, then
// entries of tag, id, perm, pad) to the Linux posix_acl_xattr format.
func aclToXattr(b []byte) ([]byte, error) {
	be, le := binary.BigEndian, binary.LittleEndian
	if len(b) < 4 {
		return nil, corruptf("ACL of %d bytes", len(b))
	}
	n := int(be.Uint32(b))
	if n > (len(b)-4)/12 {
		return nil, corruptf("ACL: %d entries in %d bytes", n, len(b))
	}
	out := le.AppendUint32(make([]byte, 0, 4+8*n), 2)
	for i := 0; i < n; i++ {
		e := b[4+12*i:]
		tag, id, perm := be.Uint32(e), be.Uint32(e[4:]), be.Uint16(e[8:])
		switch tag {
		case 0x01, 0x04, 0x10, 0x20: // USER_OBJ, GROUP_OBJ, MASK, OTHER
			id = 0xFFFFFFFF
		case 0x02, 0x08: // USER, GROUP
		default:
			return nil, corruptf("ACL entry %d: tag %#x", i, tag)
		}
		out = le.AppendUint16(out, uint16(tag))
		out = le.AppendUint16(out, perm)
		out = le.AppendUint32(out, id)
	}
	return out, nil
}
