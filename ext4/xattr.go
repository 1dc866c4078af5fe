package ext4

import "encoding/binary"

const (
	xattrMagic = 0xEA020000
	// xattrBlockHeaderSize is sizeof(struct ext4_xattr_header).
	xattrBlockHeaderSize = 32
	// xattrIbodyHeaderSize is sizeof(struct ext4_xattr_ibody_header).
	xattrIbodyHeaderSize = 4
	xattrEntrySize       = 16
	xattrBlockCsumOffset = 0x10
)

// Name indexes (e_name_index) and the prefixes Linux shows for them.
const (
	xattrIndexUser         = 1
	xattrIndexACLAccess    = 2
	xattrIndexACLDefault   = 3
	xattrIndexTrusted      = 4
	xattrIndexSecurity     = 6
	xattrIndexSystem       = 7 // system.data (inline data), hidden by Linux
	xattrIndexRichACL      = 8
	xattrIndexEncryption   = 9 // "c", the fscrypt context, hidden by Linux
	xattrIndexHurd         = 10
	xattrNameACLAccess     = "system.posix_acl_access"
	xattrNameACLDefault    = "system.posix_acl_default"
	xattrMaxValueSize      = 1 << 16 // XATTR_SIZE_MAX
	xattrInlineDataName    = "data"
	xattrMaxEntriesPerList = 4096
)

var xattrPrefixes = map[uint8]string{
	xattrIndexUser:       "user.",
	xattrIndexACLAccess:  xattrNameACLAccess,
	xattrIndexACLDefault: xattrNameACLDefault,
	xattrIndexTrusted:    "trusted.",
	xattrIndexSecurity:   "security.",
	xattrIndexSystem:     "system.",
	xattrIndexRichACL:    "system.richacl",
	xattrIndexHurd:       "gnu.",
}

// xattrEntry mirrors struct ext4_xattr_entry.
type xattrEntry struct {
	nameIndex  uint8  // e_name_index
	name       string // suffix after the index prefix
	valueOffs  uint16 // e_value_offs, from the value base of the list
	valueInum  uint32 // e_value_inum: EA inode holding the value, or 0
	valueSize  uint32 // e_value_size, bytes
	entryBytes int    // EXT4_XATTR_LEN(name_len)
}

// fullName is the name as listxattr(2) shows it.
func (e xattrEntry) fullName() string {
	p, ok := xattrPrefixes[e.nameIndex]
	if !ok {
		return ""
	}
	if e.nameIndex == xattrIndexACLAccess || e.nameIndex == xattrIndexACLDefault || e.nameIndex == xattrIndexRichACL {
		return p
	}
	return p + e.name
}

// parseXattrEntries decodes the entry list starting at b[0] until the
// 4-byte zero terminator or the end of b.
func parseXattrEntries(b []byte) ([]xattrEntry, error) {
	le := binary.LittleEndian
	var out []xattrEntry
	off := 0
	for off+4 <= len(b) && le.Uint32(b[off:]) != 0 {
		if off+xattrEntrySize > len(b) {
			return out, corruptf("xattr entry at %d overruns %d-byte list", off, len(b))
		}
		n := int(b[off])
		e := xattrEntry{
			nameIndex:  b[off+1],
			valueOffs:  le.Uint16(b[off+2:]),
			valueInum:  le.Uint32(b[off+4:]),
			valueSize:  le.Uint32(b[off+8:]),
			entryBytes: (xattrEntrySize + n + 3) &^ 3,
		}
		if off+xattrEntrySize+n > len(b) {
			return out, corruptf("xattr entry at %d: name of %d bytes overruns list", off, n)
		}
		e.name = string(b[off+xattrEntrySize : off+xattrEntrySize+n])
		if e.valueSize > xattrMaxValueSize {
			return out, corruptf("xattr %q: value size %d", e.name, e.valueSize)
		}
		out = append(out, e)
		if len(out) > xattrMaxEntriesPerList {
			return out, corruptf("xattr list with more than %d entries", xattrMaxEntriesPerList)
		}
		off += e.entryBytes
	}
	return out, nil
}

// xattrValue slices the in-list value of e out of base (the inode body
// after the ibody header, or the whole xattr block).
func xattrValue(base []byte, e xattrEntry) ([]byte, error) {
	start, end := int(e.valueOffs), int(e.valueOffs)+int(e.valueSize)
	if end > len(base) {
		return nil, corruptf("xattr %q: value at %d+%d overruns %d bytes", e.fullName(), start, e.valueSize, len(base))
	}
	return base[start:end], nil
}
