package ntfs

import "encoding/binary"

// Index entry flags (INDEX_ENTRY_FLAGS in layout.h).
const (
	ieNode = 0x01 // entry is followed by the VCN of a child node
	ieEnd  = 0x02 // last entry of a node, carries no key
)

// indexEntry is one INDEX_ENTRY (layout.h). For $I30 indexes Ref is the
// MFT reference of the named file and Key a $FILE_NAME value; for view
// indexes ($SII, ...) Data is the entry's data.
type indexEntry struct {
	Ref   uint64
	Flags uint16
	Key   []byte
	Data  []byte
	Child int64 // VCN of the child node, -1 without one
}

// indexRootHeader is the fixed part of $INDEX_ROOT (INDEX_ROOT in layout.h).
type indexRootHeader struct {
	Type          uint32 // indexed attribute type, 0x30 for directories
	Collation     uint32
	BlockSize     uint32 // bytes per index block
	EntriesOffset int    // entries, relative to the value start
	EntriesEnd    int
}

// decodeIndexRoot decodes $INDEX_ROOT and returns its header.
func decodeIndexRoot(b []byte) (indexRootHeader, error) {
	var h indexRootHeader
	if len(b) < 0x20 {
		return h, corruptf("$INDEX_ROOT of %d bytes", len(b))
	}
	h.Type = binary.LittleEndian.Uint32(b)
	h.Collation = binary.LittleEndian.Uint32(b[4:])
	h.BlockSize = binary.LittleEndian.Uint32(b[8:])
	start, end, err := indexHeaderBounds(b, 0x10)
	h.EntriesOffset, h.EntriesEnd = start, end
	return h, err
}

// indexHeaderBounds decodes an INDEX_HEADER at off and returns the byte
// range of its entries within b.
func indexHeaderBounds(b []byte, off int) (int, int, error) {
	if off+16 > len(b) {
		return 0, 0, corruptf("index header at %d past %d bytes", off, len(b))
	}
	eo := int(binary.LittleEndian.Uint32(b[off:]))
	il := int(binary.LittleEndian.Uint32(b[off+4:]))
	start, end := off+eo, off+il
	if eo < 16 || start > len(b) || end > len(b) || end < start {
		return 0, 0, corruptf("index header at %d: entries %d..%d outside %d bytes", off, start, end, len(b))
	}
	return start, end, nil
}

// decodeIndexEntries decodes the entries in b up to and including the END
// entry. view selects the view-index layout (data offset/length instead of
// an MFT reference).
func decodeIndexEntries(b []byte, view bool) ([]indexEntry, error) {
	var out []indexEntry
	for off := 0; ; {
		if off+16 > len(b) {
			return nil, corruptf("index entry at %d past %d bytes without an END entry", off, len(b))
		}
		length := int(binary.LittleEndian.Uint16(b[off+8:]))
		keyLen := int(binary.LittleEndian.Uint16(b[off+10:]))
		e := indexEntry{Flags: binary.LittleEndian.Uint16(b[off+12:]), Child: -1}
		if length < 16 || length&7 != 0 || off+length > len(b) {
			return nil, corruptf("index entry at %d has length %d (%d bytes left)", off, length, len(b)-off)
		}
		ent := b[off : off+length]
		if e.Flags&ieNode != 0 {
			if length < 24 {
				return nil, corruptf("index node entry at %d has length %d", off, length)
			}
			e.Child = int64(binary.LittleEndian.Uint64(ent[length-8:]))
			if e.Child < 0 {
				return nil, corruptf("index entry at %d: child VCN %d", off, e.Child)
			}
		}
		if e.Flags&ieEnd == 0 {
			limit := length
			if e.Flags&ieNode != 0 {
				limit -= 8
			}
			if 16+keyLen > limit {
				return nil, corruptf("index entry at %d: key of %d bytes in %d-byte entry", off, keyLen, length)
			}
			e.Key = ent[16 : 16+keyLen]
			if view {
				do := int(binary.LittleEndian.Uint16(ent))
				dl := int(binary.LittleEndian.Uint16(ent[2:]))
				if do+dl > limit {
					return nil, corruptf("index entry at %d: data %d+%d in %d-byte entry", off, do, dl, length)
				}
				e.Data = ent[do : do+dl]
			} else {
				e.Ref = binary.LittleEndian.Uint64(ent)
			}
		}
		out = append(out, e)
		if e.Flags&ieEnd != 0 {
			return out, nil
		}
		off += length
	}
}

// decodeIndexBlock decodes a fixed-up INDX block (INDEX_BLOCK in layout.h)
// expected at vcn and returns its entries.
func decodeIndexBlock(b []byte, vcn int64, view bool) ([]indexEntry, error) {
	if len(b) < 0x28 {
		return nil, corruptf("INDX block of %d bytes", len(b))
	}
	if got := int64(binary.LittleEndian.Uint64(b[0x10:])); got != vcn {
		return nil, corruptf("INDX block at VCN %d says it is VCN %d", vcn, got)
	}
	start, end, err := indexHeaderBounds(b, 0x18)
	if err != nil {
		return nil, err
	}
	return decodeIndexEntries(b[start:end], view)
}
