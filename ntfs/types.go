package ntfs

import "time"

// Options tune how a volume is presented. The zero value (or nil) gives
// ntfs-3g's presentation with modes suited to copying files out.
type Options struct {
	Uid, Gid uint32 // owner of every file, like ntfs-3g's uid=/gid= without a usermap
	// FileMode and DirMode are the permission bits of regular files and
	// directories; 0 means 0644 and 0755. Symlinks are always 0777.
	FileMode, DirMode uint32
	// ShowSystemFiles lists the metadata files ($MFT, $Extend, ...) that
	// ntfs-3g hides; they can be looked up by name either way.
	ShowSystemFiles bool
	// CaseSensitive turns off the case-insensitive fallback of Lookup.
	CaseSensitive bool
	// MountPoint is the absolute path the volume is shown at; ntfs-3g
	// prefixes it to targets of junctions and absolute symlinks.
	MountPoint string
	// CacheBytes bounds, by estimated size, the parsed MFT records and
	// decoded index blocks kept for this volume; 0 means
	// DefaultCacheBytes (1 MiB). Kept small because a mount may hold many
	// volumes open. Besides it a volume holds its 128 KiB $UpCase table,
	// and each File being read one decompressed unit (at most 64 KiB).
	CacheBytes int64
	// ListSystemXattrs adds the system.ntfs_* names to ListXattr (ntfs-3g
	// lists only user.* streams; the system names are readable either way).
	ListSystemXattrs bool
}

// Attr is what stat(2) reports for an inode.
type Attr struct {
	Ino    uint64
	Mode   uint32 // st_mode with S_IFMT type bits
	Nlink  uint32
	Uid    uint32
	Gid    uint32
	Size   int64
	Blocks int64  // 512-byte units
	Rdev   uint64 // Linux device number of an Interix device node
	Atime  time.Time
	Mtime  time.Time
	Ctime  time.Time // $STANDARD_INFORMATION last MFT change
	Crtime time.Time
	// FileAttributes are the DOS attributes of $STANDARD_INFORMATION.
	FileAttributes uint32
	// Seq is the base record's sequence number, bumped each time the
	// record is freed, so it tells a reused record from the old file.
	Seq uint16
}

// DirEntry is one name in a directory.
type DirEntry struct {
	Name string
	Ino  uint64
	Mode uint32 // S_IFMT type bits
}

// Extent maps file bytes to volume bytes.
type Extent struct {
	Logical  int64 // offset in the file (for compressed files: in the compressed stream)
	Physical int64 // offset in the volume
	Length   int64
}

// VolumeInfo describes a mounted volume.
type VolumeInfo struct {
	Label          string
	Serial         uint64 // volume serial number from the boot sector
	SerialString   string // as Windows shows it, e.g. "1A2B-3C4D"
	Version        string // NTFS version, e.g. "3.1"
	ClusterSize    int64
	RecordSize     int64 // bytes per MFT record
	IndexBlockSize int64
	TotalBytes     int64
	// Dirty is set when $Volume says the volume was not cleanly unmounted
	// (or chkdsk is scheduled); the $LogFile is not replayed.
	Dirty       bool
	VolumeFlags uint16
}

// Linux st_mode type bits.
const (
	sIFIFO  = 0o010000
	sIFCHR  = 0o020000
	sIFDIR  = 0o040000
	sIFBLK  = 0o060000
	sIFREG  = 0o100000
	sIFLNK  = 0o120000
	sIFSOCK = 0o140000
)
