package ntfs

import (
	"encoding/binary"
	"unicode/utf16"
)

// Attribute types (ATTR_TYPES in layout.h).
const (
	atStandardInformation = 0x10
	atAttributeList       = 0x20
	atFileName            = 0x30
	atObjectID            = 0x40
	atSecurityDescriptor  = 0x50
	atVolumeName          = 0x60
	atVolumeInformation   = 0x70
	atData                = 0x80
	atIndexRoot           = 0x90
	atIndexAllocation     = 0xa0
	atBitmap              = 0xb0
	atReparsePoint        = 0xc0
	atEnd                 = 0xffffffff
)

// Attribute flags (ATTR_FLAGS in layout.h).
const (
	attrCompressionMask = 0x00ff
	attrEncrypted       = 0x4000
	attrSparse          = 0x8000
)

// attribute is one attribute record (ATTR_RECORD in layout.h). A
// non-resident attribute split over several records (an attribute list) is
// merged into one attribute whose runs cover every piece.
type attribute struct {
	Type     uint32
	Name     string // attribute name, "" for the unnamed stream
	Flags    uint16
	Instance uint16
	Resident bool
	Value    []byte // resident value

	// Non-resident fields; sizes in bytes, VCNs in clusters.
	LowVCN, HighVCN int64
	CompUnit        uint8 // log2 of clusters per compression unit
	AllocSize       int64
	DataSize        int64
	InitSize        int64
	CompSize        int64 // compressed_size: allocated clusters in bytes, sparse/compressed only
	Runs            []run
}

// size returns the logical length of the attribute's value.
func (a *attribute) size() int64 {
	if a.Resident {
		return int64(len(a.Value))
	}
	return a.DataSize
}

// decodeAttributes decodes the attribute records of a fixed-up FILE record.
func decodeAttributes(b []byte, h recordHeader) ([]*attribute, error) {
	var out []*attribute
	off := int(h.AttrsOffset)
	end := int(h.BytesInUse)
	for n := 0; ; n++ {
		if off+4 > end {
			return nil, corruptf("attribute at offset %d runs past bytes_in_use %d", off, end)
		}
		if binary.LittleEndian.Uint32(b[off:]) == atEnd {
			return out, nil
		}
		if n > len(b)/16 {
			return nil, corruptf("too many attributes")
		}
		if off+16 > end {
			return nil, corruptf("attribute header at offset %d runs past bytes_in_use %d", off, end)
		}
		length := int(binary.LittleEndian.Uint32(b[off+4:]))
		if length < 0x18 || length&7 != 0 || off+length > end {
			return nil, corruptf("attribute at offset %d has length %d (bytes_in_use %d)", off, length, end)
		}
		a, err := decodeAttribute(b[off : off+length])
		if err != nil {
			return nil, corruptf("attribute at offset %d: %v", off, err)
		}
		out = append(out, a)
		off += length
	}
}

// decodeAttribute decodes one attribute record; b is exactly its length.
func decodeAttribute(b []byte) (*attribute, error) {
	a := &attribute{
		Type:     binary.LittleEndian.Uint32(b),
		Flags:    binary.LittleEndian.Uint16(b[0x0c:]),
		Instance: binary.LittleEndian.Uint16(b[0x0e:]),
	}
	nameLen := int(b[9])
	nameOff := int(binary.LittleEndian.Uint16(b[0x0a:]))
	if nameLen > 0 {
		if nameOff+2*nameLen > len(b) {
			return nil, corruptf("type 0x%x: name at %d length %d outside %d-byte record", a.Type, nameOff, nameLen, len(b))
		}
		a.Name = decodeName(b[nameOff : nameOff+2*nameLen])
	}
	if b[8] == 0 {
		a.Resident = true
		vlen := int(binary.LittleEndian.Uint32(b[0x10:]))
		voff := int(binary.LittleEndian.Uint16(b[0x14:]))
		if voff > len(b) || vlen > len(b)-voff {
			return nil, corruptf("type 0x%x: resident value at %d length %d outside %d-byte record", a.Type, voff, vlen, len(b))
		}
		a.Value = b[voff : voff+vlen]
		return a, nil
	}
	if len(b) < 0x40 {
		return nil, corruptf("type 0x%x: non-resident header of %d bytes", a.Type, len(b))
	}
	a.LowVCN = int64(binary.LittleEndian.Uint64(b[0x10:]))
	a.HighVCN = int64(binary.LittleEndian.Uint64(b[0x18:]))
	mpOff := int(binary.LittleEndian.Uint16(b[0x20:]))
	a.CompUnit = b[0x22]
	a.AllocSize = int64(binary.LittleEndian.Uint64(b[0x28:]))
	a.DataSize = int64(binary.LittleEndian.Uint64(b[0x30:]))
	a.InitSize = int64(binary.LittleEndian.Uint64(b[0x38:]))
	if a.Flags&(attrCompressionMask|attrSparse) != 0 && len(b) >= 0x48 && mpOff >= 0x48 {
		a.CompSize = int64(binary.LittleEndian.Uint64(b[0x40:]))
	} else {
		a.CompSize = a.AllocSize
	}
	if a.LowVCN < 0 || a.HighVCN < a.LowVCN-1 || a.DataSize < 0 || a.InitSize < 0 || a.AllocSize < 0 {
		return nil, corruptf("type 0x%x: vcn %d..%d, sizes alloc %d data %d init %d", a.Type, a.LowVCN, a.HighVCN, a.AllocSize, a.DataSize, a.InitSize)
	}
	if a.CompUnit > 16 {
		return nil, corruptf("type 0x%x: compression unit 2^%d clusters", a.Type, a.CompUnit)
	}
	if mpOff < 0x40 || mpOff > len(b) {
		return nil, corruptf("type 0x%x: mapping pairs offset %d in %d-byte record", a.Type, mpOff, len(b))
	}
	runs, err := decodeRunlist(b[mpOff:], a.LowVCN)
	if err != nil {
		return nil, corruptf("type 0x%x: %v", a.Type, err)
	}
	a.Runs = runs
	return a, nil
}

// decodeName decodes little-endian UTF-16 as stored in NTFS names.
func decodeName(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// decodeUTF16 returns the code units of a little-endian UTF-16 byte string.
func decodeUTF16(b []byte) []uint16 {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return u
}
