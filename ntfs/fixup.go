package ntfs

import "encoding/binary"

// applyFixups applies the update sequence array of a multi-sector protected
// record (FILE or INDX; NTFS_RECORD in layout.h) in place. sectorSize is the
// stride of the protected words, 512 bytes on every NTFS version.
func applyFixups(b []byte, magic string) error {
	const stride = 512
	if len(b) < 8 || string(b[:4]) != magic {
		if len(b) >= 4 {
			return corruptf("record magic %q, want %q", b[:4], magic)
		}
		return corruptf("record of %d bytes", len(b))
	}
	usaOfs := int(binary.LittleEndian.Uint16(b[4:]))
	usaCount := int(binary.LittleEndian.Uint16(b[6:]))
	if usaCount == 0 || usaCount-1 != len(b)/stride || usaOfs&1 != 0 || usaOfs+2*usaCount > len(b) || usaOfs < 8 {
		return corruptf("update sequence at offset %d count %d in a %d-byte %s record", usaOfs, usaCount, len(b), magic)
	}
	usn := binary.LittleEndian.Uint16(b[usaOfs:])
	for i := 1; i < usaCount; i++ {
		end := i*stride - 2
		if binary.LittleEndian.Uint16(b[end:]) != usn {
			return corruptf("%s record: update sequence mismatch in sector %d (torn write)", magic, i-1)
		}
		copy(b[end:end+2], b[usaOfs+2*i:])
	}
	return nil
}
