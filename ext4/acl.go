package ext4

import "encoding/binary"

// On-disk ext4 ACL (fs/ext4/acl.h): a 4-byte header (a_version 1) followed
// by entries of 4 bytes (ext4_acl_entry_short: e_tag, e_perm) for the
// owner/group/mask/other tags and 8 bytes (ext4_acl_entry: + e_id) for
// named users and groups.
const (
	ext4ACLVersion = 1
	aclUserObj     = 0x01
	aclUser        = 0x02
	aclGroupObj    = 0x04
	aclGroup       = 0x08
	aclMask        = 0x10
	aclOther       = 0x20
	// posixACLXattrVersion is POSIX_ACL_XATTR_VERSION, the format of the
	// system.posix_acl_* value getxattr(2) returns.
	posixACLXattrVersion = 2
	aclUndefinedID       = 0xFFFFFFFF
	aclMaxEntries        = 32 // EXT4_ACL_MAX_ENTRIES is larger; guards only
)

// ext4ACLToXattr converts an on-disk ext4 ACL to the Linux xattr format
// (struct posix_acl_xattr_header + posix_acl_xattr_entry), which is what
// the kernel returns for system.posix_acl_access/default.
func ext4ACLToXattr(b []byte) ([]byte, error) {
	le := binary.LittleEndian
	if len(b) < 4 || le.Uint32(b) != ext4ACLVersion {
		return nil, corruptf("ACL header: %d bytes, version not %d", len(b), ext4ACLVersion)
	}
	out := make([]byte, 4, 4+len(b)*2)
	le.PutUint32(out, posixACLXattrVersion)
	for off := 4; off < len(b); {
		if off+4 > len(b) {
			return nil, corruptf("ACL entry at %d overruns %d bytes", off, len(b))
		}
		tag, perm := le.Uint16(b[off:]), le.Uint16(b[off+2:])
		id := uint32(aclUndefinedID)
		switch tag {
		case aclUserObj, aclGroupObj, aclMask, aclOther:
			off += 4
		case aclUser, aclGroup:
			if off+8 > len(b) {
				return nil, corruptf("ACL entry at %d overruns %d bytes", off, len(b))
			}
			id = le.Uint32(b[off+4:])
			off += 8
		default:
			return nil, corruptf("ACL entry at %d: tag %#x", off, tag)
		}
		out = le.AppendUint16(out, tag)
		out = le.AppendUint16(out, perm)
		out = le.AppendUint32(out, id)
	}
	return out, nil
}
