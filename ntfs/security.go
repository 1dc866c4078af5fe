package ntfs

import (
	"encoding/binary"
	"fmt"
)

// securityDescriptorHeader is SECURITY_DESCRIPTOR_HEADER (layout.h), the
// data of a $Secure:$SII entry and the prefix of each $SDS record.
type securityDescriptorHeader struct {
	Hash   uint32
	ID     uint32
	Offset int64 // of the record in $SDS, bytes
	Length uint32
}

func decodeSDH(b []byte) (securityDescriptorHeader, error) {
	if len(b) < 20 {
		return securityDescriptorHeader{}, corruptf("security descriptor header of %d bytes", len(b))
	}
	return securityDescriptorHeader{
		Hash:   binary.LittleEndian.Uint32(b),
		ID:     binary.LittleEndian.Uint32(b[4:]),
		Offset: int64(binary.LittleEndian.Uint64(b[8:])),
		Length: binary.LittleEndian.Uint32(b[16:]),
	}, nil
}

// securityDescriptor returns the self-relative security descriptor of n:
// its own $SECURITY_DESCRIPTOR, or the one $Secure holds for its id.
func (fs *FS) securityDescriptor(n *inode, si stdInfo) ([]byte, error) {
	if a := n.find(atSecurityDescriptor, ""); a != nil {
		return fs.attrValue(a, fmt.Sprintf("MFT record %d $SECURITY_DESCRIPTOR", n.Num), 1<<20)
	}
	if si.SecurityID == 0 {
		return nil, nil
	}
	sec, err := fs.inode(recordSecure)
	if err != nil {
		return nil, fmt.Errorf("$Secure: %w", err)
	}
	ix, err := fs.openIndex(sec, "$SII", true)
	if err != nil {
		return nil, fmt.Errorf("$Secure: %w", err)
	}
	id := si.SecurityID
	e, err := ix.search(func(key []byte) int {
		if len(key) < 4 {
			return -1
		}
		k := binary.LittleEndian.Uint32(key)
		switch {
		case id < k:
			return -1
		case id > k:
			return 1
		}
		return 0
	}, func(*indexEntry) bool { return true })
	if err != nil {
		return nil, fmt.Errorf("$Secure:$SII security id %d of MFT record %d: %w", id, n.Num, err)
	}
	h, err := decodeSDH(e.Data)
	if err != nil {
		return nil, fmt.Errorf("$Secure:$SII security id %d: %w", id, err)
	}
	sds := sec.find(atData, "$SDS")
	if sds == nil || h.Length < 20 || h.Length > 1<<20 || h.Offset < 0 {
		return nil, fmt.Errorf("$Secure: %w", corruptf("no $SDS or bad descriptor %d at %d length %d", id, h.Offset, h.Length))
	}
	b := make([]byte, h.Length)
	if _, err := newStream(fs, sds, "$Secure:$SDS").ReadAt(b, h.Offset); err != nil {
		return nil, fmt.Errorf("$Secure:$SDS security id %d at %d: %w", id, h.Offset, err)
	}
	if got, err := decodeSDH(b); err != nil || got.ID != id {
		return nil, fmt.Errorf("$Secure:$SDS at %d: %w", h.Offset, corruptf("record for id %d, want %d", got.ID, id))
	}
	return b[20:], nil
}
