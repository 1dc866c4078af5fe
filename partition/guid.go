package partition

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"
)

// guid is a GUID in its on-disk (mixed-endian) byte order: the first three
// fields little-endian, the last eight bytes as stored.
type guid [16]byte

// String formats g as the canonical upper-case text form, as sgdisk prints it.
func (g guid) String() string {
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X",
		binary.LittleEndian.Uint32(g[0:4]),
		binary.LittleEndian.Uint16(g[4:6]),
		binary.LittleEndian.Uint16(g[6:8]),
		g[8:10], g[10:16])
}

func (g guid) isZero() bool { return g == guid{} }

// utf16Name decodes a NUL-terminated UTF-16LE name.
func utf16Name(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}
