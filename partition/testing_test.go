package partition

import (
	"encoding/binary"
	"hash/crc32"
)

// fixHeaderCRC recomputes the CRC of a GPT header sector after a change.
func fixHeaderCRC(hdr []byte) {
	size := binary.LittleEndian.Uint32(hdr[12:])
	if size < gptHeaderMinSize || int(size) > len(hdr) {
		return
	}
	binary.LittleEndian.PutUint32(hdr[16:], 0)
	binary.LittleEndian.PutUint32(hdr[16:], crc32.ChecksumIEEE(hdr[:size]))
}
