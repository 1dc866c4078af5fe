package fat

import (
	"encoding/binary"
	"fmt"
)

// bootSector mirrors the boot sector and BIOS Parameter Block (Microsoft FAT
// specification 1.03, section 3: BPB, then the FAT12/16 or FAT32 extended
// fields). Sizes are in sectors unless noted.
type bootSector struct {
	Jump              [3]byte // BS_jmpBoot
	OEMName           [8]byte // BS_OEMName
	BytesPerSector    uint16  // BPB_BytsPerSec: 512, 1024, 2048 or 4096
	SectorsPerCluster uint8   // BPB_SecPerClus: power of two, 1..128
	ReservedSectors   uint16  // BPB_RsvdSecCnt: sectors before the first FAT
	NumFATs           uint8   // BPB_NumFATs
	RootEntries       uint16  // BPB_RootEntCnt: 32-byte entries of the fixed root (0 on FAT32)
	TotalSectors16    uint16  // BPB_TotSec16
	Media             uint8   // BPB_Media
	FATSize16         uint16  // BPB_FATSz16: sectors per FAT; 0 on FAT32
	TotalSectors32    uint32  // BPB_TotSec32

	// FAT32 only, at offset 36.
	FATSize32    uint32 // BPB_FATSz32: sectors per FAT
	ExtFlags     uint16 // BPB_ExtFlags: bit 7 set = only FAT (bits 0-3) is active
	RootCluster  uint32 // BPB_RootClus: first cluster of the root directory
	FSInfoSector uint16 // BPB_FSInfo: sector of the FSInfo structure

	// Extended boot record: offset 36 on FAT12/16, 64 on FAT32.
	State      uint8    // BS_Reserved1; Linux keeps its dirty flag (bit 0) here
	ExtBootSig uint8    // BS_BootSig: 0x29 (or 0x28) when the fields below are set
	Serial     uint32   // BS_VolID
	Label      [11]byte // BS_VolLab
	FSType     [8]byte  // BS_FilSysType: informational only, never trusted

	Signature uint16 // 0xAA55 at offset 510 (0x55, 0xAA on disk)
}

const bootSectorSize = 512

// fat32Layout reports whether the boot sector uses the FAT32 BPB layout.
func (b *bootSector) fat32Layout() bool { return b.FATSize16 == 0 }

// parseBootSector decodes the first 512 bytes of a volume.
func parseBootSector(p []byte) (*bootSector, error) {
	if len(p) < bootSectorSize {
		return nil, fmt.Errorf("boot sector: %d bytes, need %d: %w", len(p), bootSectorSize, ErrCorrupt)
	}
	le := binary.LittleEndian
	b := &bootSector{
		BytesPerSector:    le.Uint16(p[11:]),
		SectorsPerCluster: p[13],
		ReservedSectors:   le.Uint16(p[14:]),
		NumFATs:           p[16],
		RootEntries:       le.Uint16(p[17:]),
		TotalSectors16:    le.Uint16(p[19:]),
		Media:             p[21],
		FATSize16:         le.Uint16(p[22:]),
		TotalSectors32:    le.Uint32(p[32:]),
		Signature:         le.Uint16(p[510:]),
	}
	copy(b.Jump[:], p[0:3])
	copy(b.OEMName[:], p[3:11])
	ext := 36
	if b.fat32Layout() {
		b.FATSize32 = le.Uint32(p[36:])
		b.ExtFlags = le.Uint16(p[40:])
		b.RootCluster = le.Uint32(p[44:])
		b.FSInfoSector = le.Uint16(p[48:])
		ext = 64
	}
	b.State = p[ext+1]
	b.ExtBootSig = p[ext+2]
	b.Serial = le.Uint32(p[ext+3:])
	copy(b.Label[:], p[ext+7:ext+18])
	copy(b.FSType[:], p[ext+18:ext+26])
	if err := b.check(); err != nil {
		return nil, err
	}
	return b, nil
}

// check rejects boot sectors that cannot describe a FAT volume. It is
// deliberately as lenient as Linux's fat_read_bpb about everything else.
func (b *bootSector) check() error {
	jumpOK := b.Jump[0] == 0xEB || b.Jump[0] == 0xE9
	if !jumpOK && b.Signature != 0xAA55 {
		return fmt.Errorf("boot sector: no jump instruction (0x%02x) and no 0xAA55 signature (0x%04x) at offset 510: not a FAT volume: %w",
			b.Jump[0], b.Signature, ErrCorrupt)
	}
	switch b.BytesPerSector {
	case 512, 1024, 2048, 4096:
	default:
		return fmt.Errorf("boot sector: bytes per sector %d at offset 11, want 512, 1024, 2048 or 4096: %w", b.BytesPerSector, ErrCorrupt)
	}
	if s := b.SectorsPerCluster; s == 0 || s&(s-1) != 0 {
		return fmt.Errorf("boot sector: sectors per cluster %d at offset 13, want a power of two: %w", s, ErrCorrupt)
	}
	if b.ReservedSectors == 0 {
		return fmt.Errorf("boot sector: reserved sector count 0 at offset 14: %w", ErrCorrupt)
	}
	if b.NumFATs == 0 {
		return fmt.Errorf("boot sector: number of FATs 0 at offset 16: %w", ErrCorrupt)
	}
	if m := b.Media; m != 0xF0 && m < 0xF8 {
		return fmt.Errorf("boot sector: media descriptor 0x%02x at offset 21, want 0xF0 or 0xF8-0xFF: %w", m, ErrCorrupt)
	}
	if b.totalSectors() == 0 {
		return fmt.Errorf("boot sector: total sector count 0 (offsets 19 and 32): %w", ErrCorrupt)
	}
	if b.fatSectors() == 0 {
		return fmt.Errorf("boot sector: sectors per FAT 0 (offsets 22 and 36): %w", ErrCorrupt)
	}
	return nil
}

func (b *bootSector) totalSectors() int64 {
	if b.TotalSectors16 != 0 {
		return int64(b.TotalSectors16)
	}
	return int64(b.TotalSectors32)
}

func (b *bootSector) fatSectors() int64 {
	if b.FATSize16 != 0 {
		return int64(b.FATSize16)
	}
	return int64(b.FATSize32)
}
