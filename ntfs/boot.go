package ntfs

import (
	"encoding/binary"
	"fmt"
)

// bootSector is the NTFS boot sector (NTFS_BOOT_SECTOR in ntfs-3g's
// layout.h); only the fields the reader needs are kept.
type bootSector struct {
	BytesPerSector    uint32 // bytes
	SectorsPerCluster uint32 // decoded, may come from a 2^-n encoding
	TotalSectors      int64  // sectors in the volume
	MFTLCN            int64  // cluster of $MFT
	MFTMirrLCN        int64  // cluster of $MFTMirr
	ClusterSize       int64  // bytes
	RecordSize        int64  // bytes per MFT record
	IndexBlockSize    int64  // bytes per INDX record
	Serial            uint64 // volume serial number
}

// decodeBootSector checks and decodes the first 512 bytes of a volume.
func decodeBootSector(b []byte) (bootSector, error) {
	var bs bootSector
	if len(b) < 512 {
		return bs, corruptf("boot sector: %d bytes, need 512", len(b))
	}
	if string(b[3:11]) != "NTFS    " {
		return bs, corruptf("boot sector: OEM id %q, want \"NTFS    \"", b[3:11])
	}
	bps := uint32(binary.LittleEndian.Uint16(b[0x0b:]))
	if bps < 256 || bps > 4096 || bps&(bps-1) != 0 {
		return bs, corruptf("boot sector: bytes per sector %d at offset 0x0b", bps)
	}
	bs.BytesPerSector = bps
	spc := uint32(b[0x0d])
	if spc > 0x80 {
		// Values above 128 encode 2^(256-value) sectors (large clusters).
		shift := 256 - spc
		if shift > 20 {
			return bs, corruptf("boot sector: sectors per cluster byte 0x%02x", b[0x0d])
		}
		spc = 1 << shift
	}
	if spc == 0 || spc&(spc-1) != 0 {
		return bs, corruptf("boot sector: sectors per cluster %d at offset 0x0d", spc)
	}
	bs.SectorsPerCluster = spc
	bs.ClusterSize = int64(bps) * int64(spc)
	if bs.ClusterSize > 2<<20 {
		return bs, corruptf("boot sector: cluster size %d above 2 MiB", bs.ClusterSize)
	}
	bs.TotalSectors = int64(binary.LittleEndian.Uint64(b[0x28:]))
	bs.MFTLCN = int64(binary.LittleEndian.Uint64(b[0x30:]))
	bs.MFTMirrLCN = int64(binary.LittleEndian.Uint64(b[0x38:]))
	if bs.TotalSectors <= 0 || bs.MFTLCN <= 0 || bs.MFTLCN > bs.TotalSectors {
		return bs, corruptf("boot sector: total sectors %d, $MFT at cluster %d", bs.TotalSectors, bs.MFTLCN)
	}
	var err error
	if bs.RecordSize, err = decodeRecordSize(int8(b[0x40]), bs.ClusterSize); err != nil {
		return bs, fmt.Errorf("boot sector: MFT record size at offset 0x40: %w", err)
	}
	if bs.IndexBlockSize, err = decodeRecordSize(int8(b[0x44]), bs.ClusterSize); err != nil {
		return bs, fmt.Errorf("boot sector: index record size at offset 0x44: %w", err)
	}
	if bs.RecordSize < int64(bps) || bs.IndexBlockSize < int64(bps) {
		return bs, corruptf("boot sector: record sizes %d/%d below sector size %d", bs.RecordSize, bs.IndexBlockSize, bps)
	}
	bs.Serial = binary.LittleEndian.Uint64(b[0x48:])
	return bs, nil
}

// decodeRecordSize decodes clusters_per_mft_record / clusters_per_index_record:
// a positive value counts clusters, a negative value v means 2^-v bytes.
func decodeRecordSize(v int8, clusterSize int64) (int64, error) {
	var n int64
	switch {
	case v > 0:
		n = int64(v) * clusterSize
	case v < 0 && v >= -31:
		n = 1 << uint(-v)
	default:
		return 0, corruptf("size byte %d", v)
	}
	if n < 256 || n > 64<<10 || n&(n-1) != 0 {
		return 0, corruptf("record size %d bytes (byte %d)", n, v)
	}
	return n, nil
}
