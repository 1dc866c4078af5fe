package vhd

import (
	"encoding/binary"
	"unicode/utf16"
)

// headerLen is the size of the dynamic disk header in bytes.
const headerLen = 1024

// Header mirrors the "Dynamic Disk Header" of the VHD specification:
// 1024 bytes, big-endian, at the footer's DataOffset. TableOffset is the
// byte offset of the BAT; BlockSize is in bytes.
type Header struct {
	Cookie          [8]byte // "cxsparse"
	DataOffset      uint64  // unused, all ones
	TableOffset     uint64
	Version         uint32 // 0x00010000
	MaxTableEntries uint32
	BlockSize       uint32
	Checksum        uint32
	ParentUniqueID  [16]byte
	ParentTimestamp uint32
	ParentName      string // UTF-16 big-endian on disk
	Locators        [8]Locator
}

// Locator mirrors a "Parent Locator Entry": where a differencing disk
// keeps one spelling of its parent's path.
type Locator struct {
	Code       [4]byte // "W2ru" relative, "W2ku" absolute (UTF-16LE), "Wi2r"/"Wi2k" (ANSI), "MacX" (UTF-8 URL)
	DataSpace  uint32  // sectors reserved (some writers: bytes)
	DataLength uint32  // bytes
	DataOffset uint64  // byte offset in the file
}

// parseHeader decodes the 1024 bytes of b.
func parseHeader(b []byte) Header {
	be := binary.BigEndian
	var h Header
	copy(h.Cookie[:], b[0:8])
	h.DataOffset = be.Uint64(b[8:])
	h.TableOffset = be.Uint64(b[16:])
	h.Version = be.Uint32(b[24:])
	h.MaxTableEntries = be.Uint32(b[28:])
	h.BlockSize = be.Uint32(b[32:])
	h.Checksum = be.Uint32(b[36:])
	copy(h.ParentUniqueID[:], b[40:56])
	h.ParentTimestamp = be.Uint32(b[56:])
	h.ParentName = decodeUTF16(b[64:576], binary.BigEndian)
	for i := range h.Locators {
		e := b[576+24*i:]
		l := &h.Locators[i]
		copy(l.Code[:], e[0:4])
		l.DataSpace = be.Uint32(e[4:])
		l.DataLength = be.Uint32(e[8:])
		l.DataOffset = be.Uint64(e[16:])
	}
	return h
}

// decodeUTF16 decodes b up to the first NUL character.
func decodeUTF16(b []byte, order binary.ByteOrder) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := order.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}
