package vhdx

import (
	"encoding/binary"
	"unicode/utf16"
)

// Metadata table layout (MS-VHDX 2.6.1): a 32-byte header then 32-byte
// entries, in the first 64 KiB of the metadata region.
const (
	metaTableLen = 64 << 10
	maxMetaItems = 2047
	metaEntryLen = 32
)

// MetaEntry mirrors a metadata table entry: an item's GUID and where its
// bytes lie, relative to the start of the metadata region.
type MetaEntry struct {
	ItemID   GUID
	Offset   uint32
	Length   uint32
	IsUser   bool
	Required bool
}

// parseMetaTable decodes the table header and its entries.
func parseMetaTable(b []byte) (sig string, entries []MetaEntry, count uint16) {
	le := binary.LittleEndian
	sig = string(b[0:8])
	count = le.Uint16(b[10:])
	for i := range min(int(count), maxMetaItems) {
		e := b[metaEntryLen*(i+1):]
		var m MetaEntry
		copy(m.ItemID[:], e[0:16])
		m.Offset = le.Uint32(e[16:])
		m.Length = le.Uint32(e[20:])
		flags := le.Uint32(e[24:])
		m.IsUser = flags&1 != 0
		m.Required = flags&4 != 0
		entries = append(entries, m)
	}
	return sig, entries, count
}

// FileParameters mirrors the File Parameters item (MS-VHDX 2.6.2.1).
type FileParameters struct {
	BlockSize            uint32 // bytes, 1 MiB to 256 MiB, a power of two
	LeaveBlocksAllocated bool   // a fixed disk
	HasParent            bool   // a differencing disk
}

func parseFileParameters(b []byte) FileParameters {
	flags := binary.LittleEndian.Uint32(b[4:])
	return FileParameters{
		BlockSize:            binary.LittleEndian.Uint32(b),
		LeaveBlocksAllocated: flags&1 != 0,
		HasParent:            flags&2 != 0,
	}
}

// ParentLocator mirrors the parent locator item (MS-VHDX 2.6.2.6): a
// type GUID and UTF-16LE key/value pairs (parent_linkage, relative_path,
// volume_path, absolute_win32_path, ...).
type ParentLocator struct {
	Type    GUID
	Entries map[string]string
}

// parseParentLocator decodes the item in b; ok is false when an entry
// lies outside the item or a key repeats.
func parseParentLocator(b []byte) (ParentLocator, bool) {
	le := binary.LittleEndian
	if len(b) < 20 {
		return ParentLocator{}, false
	}
	var pl ParentLocator
	copy(pl.Type[:], b[0:16])
	n := int(le.Uint16(b[18:]))
	if 20+12*n > len(b) {
		return pl, false
	}
	pl.Entries = make(map[string]string, n)
	for i := range n {
		e := b[20+12*i:]
		ko, vo := uint64(le.Uint32(e[0:])), uint64(le.Uint32(e[4:]))
		kl, vl := uint64(le.Uint16(e[8:])), uint64(le.Uint16(e[10:]))
		if ko+kl > uint64(len(b)) || vo+vl > uint64(len(b)) || kl == 0 {
			return pl, false
		}
		k := utf16le(b[ko : ko+kl])
		if _, dup := pl.Entries[k]; dup {
			return pl, false
		}
		pl.Entries[k] = utf16le(b[vo : vo+vl])
	}
	return pl, true
}

func utf16le(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}
