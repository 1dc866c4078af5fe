package ext4

import "encoding/binary"

// Hash versions (dx_root_info.hash_version, s_def_hash_version).
const (
	hashLegacy           = 0
	hashHalfMD4          = 1
	hashTea              = 2
	hashLegacyUnsigned   = 3
	hashHalfMD4Unsigned  = 4
	hashTeaUnsigned      = 5
	hashSiphash          = 6
	dxRootInfoOffset     = 0x18
	dxRootEntriesOffset  = 0x20
	dxNodeEntriesOffset  = 0x8
	dxEntrySize          = 8
	dxTailSize           = 8
	dxMaxLevels          = 2 // without large_dir
	dxMaxLevelsLargeDir  = 3
	dxContinuationHashLo = 1
)

// dxRootInfo mirrors struct dx_root_info, at offset 0x18 of the first
// block of a hashed directory (after the "." and ".." entries).
type dxRootInfo struct {
	hashVersion    uint8 // hash_version
	infoLength     uint8 // info_length, 8
	indirectLevels uint8 // indirect_levels: 0 means the root points at leaves
}

// dxCountLimit mirrors struct dx_countlimit, which overlays the hash of
// the first struct dx_entry of a node.
type dxCountLimit struct {
	limit uint16 // capacity in entries
	count uint16 // entries in use
}

// dxEntry mirrors struct dx_entry.
type dxEntry struct {
	hash  uint32 // lowest hash in the child (entry 0: implicit 0)
	block uint32 // logical block of the child in the directory
}

func parseDxRootInfo(b []byte) (dxRootInfo, error) {
	if len(b) < dxRootEntriesOffset+dxEntrySize {
		return dxRootInfo{}, corruptf("dx root block of %d bytes", len(b))
	}
	i := dxRootInfo{hashVersion: b[dxRootInfoOffset+4], infoLength: b[dxRootInfoOffset+5], indirectLevels: b[dxRootInfoOffset+6]}
	if i.infoLength != 8 {
		return i, corruptf("dx root info_length %d, want 8", i.infoLength)
	}
	return i, nil
}

// parseDxEntries decodes the count/limit and entries of a node whose
// entries start at off. It checks that count <= limit and that the entries
// fit in the block (leaving room for a dx_tail when csum is set).
func parseDxEntries(b []byte, off int, csum bool) (dxCountLimit, []dxEntry, error) {
	if off+dxEntrySize > len(b) {
		return dxCountLimit{}, nil, corruptf("dx node entries at %d overrun %d-byte block", off, len(b))
	}
	le := binary.LittleEndian
	cl := dxCountLimit{limit: le.Uint16(b[off:]), count: le.Uint16(b[off+2:])}
	room := (len(b) - off) / dxEntrySize
	if csum {
		room = (len(b) - off - dxTailSize) / dxEntrySize
	}
	if cl.count == 0 || cl.count > cl.limit || int(cl.limit) > room {
		return cl, nil, corruptf("dx node at %d: count %d limit %d (room for %d)", off, cl.count, cl.limit, room)
	}
	es := make([]dxEntry, cl.count)
	for i := range es {
		p := off + i*dxEntrySize
		es[i] = dxEntry{hash: le.Uint32(b[p:]), block: le.Uint32(b[p+4:])}
	}
	es[0].hash = 0
	return cl, es, nil
}
