package ntfs

import (
	"encoding/binary"
	"time"
	"unicode/utf16"
)

// File name namespaces (FILE_NAME_TYPE_FLAGS in layout.h).
const (
	nsPOSIX    = 0
	nsWin32    = 1
	nsDOS      = 2
	nsWin32DOS = 3
)

// DOS file attributes (FILE_ATTR_FLAGS in layout.h).
const (
	faReadOnly     = 0x0001
	faHidden       = 0x0002
	faSystem       = 0x0004
	faDirectory    = 0x0010
	faArchive      = 0x0020
	faNormal       = 0x0080
	faSparse       = 0x0200
	faReparse      = 0x0400
	faCompressed   = 0x0800
	faOffline      = 0x1000
	faEncrypted    = 0x4000
	faRecallOpen   = 0x40000
	faRecallAccess = 0x400000
	faI30Index     = 0x10000000 // FILE_ATTR_DUP_FILE_NAME_INDEX_PRESENT
)

// fileName is a $FILE_NAME value (FILE_NAME_ATTR in layout.h).
type fileName struct {
	Parent     uint64 // MFT reference of the directory
	Attributes uint32 // file_attributes (duplicated, may be stale)
	ReparseTag uint32 // reparse_point_tag, valid when Attributes has faReparse
	Namespace  uint8
	Name       []uint16
}

// decodeFileName decodes a $FILE_NAME value or index key.
func decodeFileName(b []byte) (fileName, error) {
	var f fileName
	if len(b) < 0x42 {
		return f, corruptf("$FILE_NAME of %d bytes, need 66", len(b))
	}
	f.Parent = binary.LittleEndian.Uint64(b)
	f.Attributes = binary.LittleEndian.Uint32(b[0x38:])
	f.ReparseTag = binary.LittleEndian.Uint32(b[0x3c:])
	n := int(b[0x40])
	f.Namespace = b[0x41]
	if 0x42+2*n > len(b) {
		return f, corruptf("$FILE_NAME name of %d characters overruns %d bytes", n, len(b))
	}
	f.Name = decodeUTF16(b[0x42 : 0x42+2*n])
	return f, nil
}

func (f fileName) String() string { return string(utf16.Decode(f.Name)) }

// stdInfo is a $STANDARD_INFORMATION value (STANDARD_INFORMATION in layout.h);
// times are raw NTFS times (100 ns units since 1601-01-01 UTC).
type stdInfo struct {
	Creation, Modification, MFTChange, Access uint64
	Attributes                                uint32
	SecurityID                                uint32 // NTFS 3.x only, 0 otherwise
	Raw                                       []byte
}

func decodeStdInfo(b []byte) (stdInfo, error) {
	var s stdInfo
	if len(b) < 0x30 {
		return s, corruptf("$STANDARD_INFORMATION of %d bytes, need 48", len(b))
	}
	s.Creation = binary.LittleEndian.Uint64(b)
	s.Modification = binary.LittleEndian.Uint64(b[8:])
	s.MFTChange = binary.LittleEndian.Uint64(b[16:])
	s.Access = binary.LittleEndian.Uint64(b[24:])
	s.Attributes = binary.LittleEndian.Uint32(b[0x20:])
	if len(b) >= 0x38 {
		s.SecurityID = binary.LittleEndian.Uint32(b[0x34:])
	}
	s.Raw = b
	return s, nil
}

// ntfsEpochDelta is 1601-01-01 to 1970-01-01 in 100 ns units.
const ntfsEpochDelta = 116444736000000000

// ntfsTime converts an NTFS time to time.Time, keeping 100 ns precision.
func ntfsTime(t uint64) time.Time {
	d := int64(t) - ntfsEpochDelta
	sec, rem := d/10000000, d%10000000
	if rem < 0 {
		sec, rem = sec-1, rem+10000000
	}
	return time.Unix(sec, rem*100).UTC()
}

// upcaseCompare compares UTF-16 names as NTFS collates file names
// (ntfs_names_full_collate): upper-cased code units first, then length,
// then, when caseSensitive, the raw code units.
func upcaseCompare(a, b []uint16, up []uint16, caseSensitive bool) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := a[i], b[i]
		if int(ca) < len(up) {
			ca = up[ca]
		}
		if int(cb) < len(up) {
			cb = up[cb]
		}
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	if !caseSensitive {
		return 0
	}
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// upcaseCompareKey is upcaseCompare with b given as little-endian UTF-16
// bytes straight from an index key, so lookups decode nothing.
func upcaseCompareKey(a []uint16, b []byte, up []uint16, caseSensitive bool) int {
	nb := len(b) / 2
	n := min(len(a), nb)
	for i := 0; i < n; i++ {
		ca, cb := a[i], binary.LittleEndian.Uint16(b[2*i:])
		if int(ca) < len(up) {
			ca = up[ca]
		}
		if int(cb) < len(up) {
			cb = up[cb]
		}
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
	if len(a) != nb {
		if len(a) < nb {
			return -1
		}
		return 1
	}
	if !caseSensitive {
		return 0
	}
	for i := 0; i < n; i++ {
		if cb := binary.LittleEndian.Uint16(b[2*i:]); a[i] != cb {
			if a[i] < cb {
				return -1
			}
			return 1
		}
	}
	return 0
}
