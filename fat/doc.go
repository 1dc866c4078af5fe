// Package fat reads FAT12, FAT16 and FAT32 filesystems (with VFAT long file
// names) from an io.ReaderAt, read-only, using only the standard library.
//
// It is written for vmarchive, which shows guest filesystems of archived VM
// disks; the common case is an EFI system partition. go-diskfs's fat32
// package was not used: it handles FAT32 only and is built around writing.
//
// # Layout and FAT type
//
// The FAT type is decided by the count of data clusters, as Microsoft's
// specification ("FAT: General Overview of On-Disk Format", 1.03) says:
// fewer than 4085 is FAT12, fewer than 65525 is FAT16, otherwise FAT32. The
// BS_FilSysType label ("FAT16   ") is ignored. One exception mirrors Linux:
// a boot sector in the FAT32 layout (BPB_FATSz16 == 0) is read as FAT32
// even with fewer clusters, because such a volume has no fixed root
// directory to read it any other way. When the FAT32 BPB_ExtFlags say the
// FATs are not mirrored, the active FAT is used; otherwise the first.
//
// # Inode numbers
//
// An inode number is the byte offset of the file's 8.3 directory entry in
// the volume divided by 32 (what Linux calls i_pos). The root directory,
// which has no entry, is 1; no entry can be at offset 32 because sector 0
// is always reserved. The numbers are stable across opens and need no table:
// Stat reads the one 32-byte entry the number points at. FAT has no hard
// links, so every name has its own number. A number that points at no live
// 8.3 entry fails with fs.ErrNotExist; one this package never returned may
// point into file data that happens to look like an entry, so callers
// should only pass numbers from Root, ReadDir and Lookup.
//
// # Names
//
// Long names come from VFAT LFN entries when their sequence is complete and
// their checksum matches the 8.3 entry that follows (UCS-2 with surrogate
// pairs decoded to UTF-8; an unpaired surrogate becomes U+FFFD). Orphaned or
// broken LFN runs are ignored and the 8.3 name is used. 8.3 names are decoded
// as code page 437 (Linux's default codepage=437) and lower-cased per the
// Windows NT flags in byte 12 (0x08 base, 0x10 extension), as Linux vfat
// shows them. "." and ".." are never returned. Lookup is case-insensitive
// (Unicode simple folding) and also accepts the 8.3 name, as Linux vfat
// does. A directory ends at its first entry whose name starts with 0x00.
//
// # Attributes
//
// Modes follow Linux vfat: permissions start at 0777, the read-only DOS
// attribute removes the write bits of files (not of directories, as with
// Linux's default "norodir"), then Options.Fmask or Options.Dmask is
// cleared; the defaults (DefaultOptions, or nil Options) are uid 0, gid 0
// and masks 022, so files and directories are 0755 like a Linux vfat mount
// with umask 022. With Options.ShowExec only .EXE, .COM and .BAT files keep
// execute bits. Directories have the size of their cluster chain (the fixed
// FAT12/16 root: entries*32) and a link count of subdirectories + 2. Blocks
// is the size rounded up to whole clusters, in 512-byte units.
//
// # Times
//
// FAT stores local wall-clock times with no zone. They are interpreted in
// Options.Location (default UTC), like Linux's tz= mount option.
// Mtime is the write date and time (2-second units); Ctime equals Mtime, as
// Linux reports it; Atime is the access date at midnight; Crtime is the
// creation date and time including its 10-millisecond field, or the zero
// time when the creation date is 0 (not recorded). The root directory has
// no entry and reports the Unix epoch, as Linux does.
//
// # Errors and limits
//
// Damage is reported with errors wrapping ErrCorrupt that name the
// structure, cluster and byte offset. Cluster chains are checked for loops,
// for free, bad or reserved entries and for clusters out of range; a
// directory is capped at 65536 entries (2 MiB) like Linux's FAT_MAX_DIR_SIZE.
// Missing names wrap io/fs.ErrNotExist. FAT has no symbolic links or
// extended attributes: Readlink wraps errors.ErrUnsupported, ListXattr is
// empty and GetXattr wraps fs.ErrNotExist.
//
// # Concurrency and caches
//
// An FS and its Files are safe for concurrent use. Each FS keeps a small
// LRU of FAT blocks (32 blocks of 4 KiB) and of parsed
// directories (bounded by total entries), so memory per open volume stays
// well under a megabyte.
package fat
