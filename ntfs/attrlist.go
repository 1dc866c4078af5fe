package ntfs

import "encoding/binary"

// attrListEntry is one ATTR_LIST_ENTRY of an $ATTRIBUTE_LIST (layout.h).
type attrListEntry struct {
	Type   uint32
	LowVCN int64  // lowest_vcn of the piece, clusters
	Ref    uint64 // MFT reference of the record holding the piece
	Name   string
}

// decodeAttrList decodes an $ATTRIBUTE_LIST value.
func decodeAttrList(b []byte) ([]attrListEntry, error) {
	var out []attrListEntry
	for off := 0; off < len(b); {
		if off+0x1a > len(b) {
			if off+4 <= len(b) && binary.LittleEndian.Uint32(b[off:]) == atEnd {
				return out, nil
			}
			return nil, corruptf("attribute list entry at offset %d truncated (%d bytes)", off, len(b))
		}
		e := attrListEntry{
			Type:   binary.LittleEndian.Uint32(b[off:]),
			LowVCN: int64(binary.LittleEndian.Uint64(b[off+8:])),
			Ref:    binary.LittleEndian.Uint64(b[off+0x10:]),
		}
		length := int(binary.LittleEndian.Uint16(b[off+4:]))
		nameLen, nameOff := int(b[off+6]), int(b[off+7])
		if length < 0x1a || off+length > len(b) || nameOff+2*nameLen > length {
			return nil, corruptf("attribute list entry at offset %d: length %d, name at %d+%d", off, length, nameOff, 2*nameLen)
		}
		e.Name = decodeName(b[off+nameOff : off+nameOff+2*nameLen])
		out = append(out, e)
		off += length
	}
	return out, nil
}
