package partition

import (
	"encoding/binary"
	"unicode/utf16"
)

// guid is a GUID in its on-disk (mixed-endian) byte order: the first three
// fields little-endian, the last eight bytes as stored.
type guid [16]byte

// String formats g as the canonical upper-case text form, as sgdisk prints it.
func (g guid) String() string {
	const hex = "0123456789ABCDEF"
	// Byte order of the text: the first three fields are little-endian.
	order := [16]int{3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15}
	var b [36]byte
	j := 0
	for i, k := range order {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = hex[g[k]>>4], hex[g[k]&0xF]
		j += 2
	}
	return string(b[:])
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
