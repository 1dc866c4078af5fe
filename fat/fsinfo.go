package fat

import "encoding/binary"

// fsInfo mirrors the FAT32 FSInfo sector (FAT specification 1.03, section
// 5). Both counts are hints that may be stale.
type fsInfo struct {
	FreeCount uint32 // FSI_Free_Count: free clusters, 0xFFFFFFFF if unknown
	NextFree  uint32 // FSI_Nxt_Free: hint for the allocator
}

const (
	fsInfoLeadSig  = 0x41615252 // FSI_LeadSig at offset 0
	fsInfoStrucSig = 0x61417272 // FSI_StrucSig at offset 484
	fsInfoTrailSig = 0xAA550000 // FSI_TrailSig at offset 508
)

// parseFSInfo decodes an FSInfo sector; ok is false when its signatures
// are wrong, in which case the hints must not be used.
func parseFSInfo(p []byte) (info fsInfo, ok bool) {
	if len(p) < 512 {
		return fsInfo{}, false
	}
	le := binary.LittleEndian
	if le.Uint32(p[0:]) != fsInfoLeadSig || le.Uint32(p[484:]) != fsInfoStrucSig || le.Uint32(p[508:]) != fsInfoTrailSig {
		return fsInfo{}, false
	}
	return fsInfo{FreeCount: le.Uint32(p[488:]), NextFree: le.Uint32(p[492:])}, true
}
