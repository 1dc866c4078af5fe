package qcow2

import "encoding/binary"

// Header extension types of qcow2.txt.
const (
	extEnd            = 0x00000000
	extBackingFormat  = 0xe2792aca
	extFeatureNames   = 0x6803f857
	extBitmaps        = 0x23852875
	extEncryption     = 0x0537be77
	extExternalData   = 0x44415441
	extensionHdrBytes = 8
)

// Extension mirrors a header extension: type and length (big-endian)
// followed by the data, padded to a multiple of 8 bytes.
type Extension struct {
	Type uint32
	Data []byte
}

// parseExtensions decodes the extensions in b (the rest of the first
// cluster after the header) up to the end marker.
func parseExtensions(b []byte) ([]Extension, bool) {
	var out []Extension
	for len(b) >= extensionHdrBytes {
		typ := binary.BigEndian.Uint32(b)
		n := uint64(binary.BigEndian.Uint32(b[4:]))
		if typ == extEnd {
			return out, true
		}
		b = b[extensionHdrBytes:]
		if n > uint64(len(b)) {
			return out, false
		}
		out = append(out, Extension{Type: typ, Data: b[:n]})
		b = b[min((n+7)&^7, uint64(len(b))):]
	}
	return out, true // a header filling its cluster needs no end marker
}
