package ntfs

import (
	"encoding/binary"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// USNRecord is one change journal entry: USN_RECORD_V2 (64-bit file
// references) or USN_RECORD_V3 (128-bit ones, of which NTFS uses the low
// 64 bits) in winioctl.h.
type USNRecord struct {
	Major          uint16 // MajorVersion: 2 or 3
	USN            int64  // Usn: the record's byte offset in $J
	Time           time.Time
	Ino            uint64 // MFT record number of the file
	Seq            uint16 // its sequence number
	ParentIno      uint64
	ParentSeq      uint16
	Reason         uint32 // USN_REASON_* bits
	SourceInfo     uint32
	SecurityID     uint32
	FileAttributes uint32
	Name           string
}

// usnMinRecord is the smallest record: a V2 header with an empty name.
const usnMinRecord = 60

// decodeUSNRecord decodes the record at the start of b; n is its length.
func decodeUSNRecord(b []byte) (r USNRecord, n int, err error) {
	if len(b) < 8 {
		return r, 0, corruptf("USN record header of %d bytes", len(b))
	}
	le := binary.LittleEndian
	n = int(le.Uint32(b))
	r.Major = le.Uint16(b[4:])
	if n < usnMinRecord || n%8 != 0 || n > len(b) {
		return r, 0, corruptf("USN record length %d (%d bytes left)", n, len(b))
	}
	b = b[:n]
	var nameLen, nameOff int
	switch r.Major {
	case 2:
		r.Ino, r.Seq = mref(le.Uint64(b[8:]))
		r.ParentIno, r.ParentSeq = mref(le.Uint64(b[16:]))
		r.USN = int64(le.Uint64(b[24:]))
		r.Time = ntfsTime(le.Uint64(b[32:]))
		r.Reason, r.SourceInfo = le.Uint32(b[40:]), le.Uint32(b[44:])
		r.SecurityID, r.FileAttributes = le.Uint32(b[48:]), le.Uint32(b[52:])
		nameLen, nameOff = int(le.Uint16(b[56:])), int(le.Uint16(b[58:]))
	case 3:
		if n < 80 {
			return r, 0, corruptf("USN V3 record of %d bytes", n)
		}
		r.Ino, r.Seq = mref(le.Uint64(b[8:]))
		r.ParentIno, r.ParentSeq = mref(le.Uint64(b[24:]))
		r.USN = int64(le.Uint64(b[40:]))
		r.Time = ntfsTime(le.Uint64(b[48:]))
		r.Reason, r.SourceInfo = le.Uint32(b[56:]), le.Uint32(b[60:])
		r.SecurityID, r.FileAttributes = le.Uint32(b[64:]), le.Uint32(b[68:])
		nameLen, nameOff = int(le.Uint16(b[72:])), int(le.Uint16(b[74:]))
	default:
		return r, 0, corruptf("USN record version %d.%d", r.Major, le.Uint16(b[6:]))
	}
	if nameLen%2 != 0 || nameOff < 8 || nameOff+nameLen > n {
		return r, 0, corruptf("USN record name of %d bytes at %d in a %d-byte record", nameLen, nameOff, n)
	}
	r.Name = string(utf16.Decode(decodeUTF16(b[nameOff : nameOff+nameLen])))
	return r, n, nil
}

// usnReasons names the USN_REASON_* bits as fsutil and usnjls print them.
var usnReasons = []struct {
	bit  uint32
	name string
}{
	{0x00000001, "DATA_OVERWRITE"}, {0x00000002, "DATA_EXTEND"}, {0x00000004, "DATA_TRUNCATION"},
	{0x00000010, "NAMED_DATA_OVERWRITE"}, {0x00000020, "NAMED_DATA_EXTEND"}, {0x00000040, "NAMED_DATA_TRUNCATION"},
	{0x00000100, "FILE_CREATE"}, {0x00000200, "FILE_DELETE"}, {0x00000400, "EA_CHANGE"},
	{0x00000800, "SECURITY_CHANGE"}, {0x00001000, "RENAME_OLD_NAME"}, {0x00002000, "RENAME_NEW_NAME"},
	{0x00004000, "INDEXABLE_CHANGE"}, {0x00008000, "BASIC_INFO_CHANGE"}, {0x00010000, "HARD_LINK_CHANGE"},
	{0x00020000, "COMPRESSION_CHANGE"}, {0x00040000, "ENCRYPTION_CHANGE"}, {0x00080000, "OBJECT_ID_CHANGE"},
	{0x00100000, "REPARSE_POINT_CHANGE"}, {0x00200000, "STREAM_CHANGE"}, {0x00400000, "TRANSACTED_CHANGE"},
	{0x00800000, "INTEGRITY_CHANGE"}, {0x80000000, "CLOSE"},
}

// USNReasonString names the bits of a USN reason, joined with "|".
func USNReasonString(reason uint32) string {
	var names []string
	for _, r := range usnReasons {
		if reason&r.bit != 0 {
			names = append(names, r.name)
			reason &^= r.bit
		}
	}
	if reason != 0 {
		names = append(names, "0x"+strconv.FormatUint(uint64(reason), 16))
	}
	return strings.Join(names, "|")
}
