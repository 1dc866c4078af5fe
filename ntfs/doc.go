// Package ntfs reads NTFS volumes over an io.ReaderAt, read-only, and shows
// them the way ntfs-3g (with its default streams_interface=xattr) and The
// Sleuth Kit see them.
//
// # Model
//
// An inode number is an MFT record number; hard links share it. Directory
// listings come from the $I30 index (names taken from the index entries, so
// every hard link appears under its own name), lookups walk the index
// B+tree with the volume's $UpCase table. Alternate data streams appear as
// "user.<stream>" extended attributes; NTFS metadata appears under ntfs-3g's
// "system.ntfs_*" attribute names with ntfs-3g's byte layouts.
//
// A damaged index entry (a key that does not decode, an empty name, a "/"
// or NUL in the name, a reference past $MFT, or a record that cannot be
// read when the entry's type must come from it) is left out of ReadDir
// and Lookup while the rest of the directory reads, where ntfs-3g fails
// the whole directory; FS.Damage lists each one once and FS.DirDamaged
// names the directories that lost entries.
//
// # Deleted files
//
// DeletedRecords lists the base MFT records from 16 on whose in-use flag is
// clear and that still name a file (not a directory), like The Sleuth
// Kit's `fls -d`, with the name from the record's own $FILE_NAME and a
// state: Recoverable when the unnamed $DATA is resident or every cluster
// of its runs is free in $Bitmap, Reused when some cluster is allocated
// again, Damaged when its runs leave the volume or its attribute list's
// extension records cannot be read. Windows and ntfs-3g keep a deleted
// record's runs; a record taken by a new file is that file's, not listed.
// OpenDeleted reads a Recoverable one, byte for byte what icat gives.
//
// # Change journal
//
// USNJournal decodes $Extend/$UsnJrnl:$J (USN_RECORD_V2 and V3), reading
// only the allocated part of the sparse stream and skipping zero padding;
// USNRecords does the same for any inode's stream. Bytes that are not a
// record are skipped and counted in an error wrapping ErrCorrupt after
// every good record was handed over.
//
// # What is not done
//
// The $LogFile is never replayed: a dirty volume is read as it is on disk
// and reported by Info. EFS-encrypted files and cloud placeholders cannot be
// read and say so.
//
// # Concurrency and memory
//
// An FS and its Files are safe for concurrent use. Parsed MFT records and
// decoded index blocks are kept in LRU caches bounded by estimated bytes
// (Options.CacheBytes, 1 MiB per volume by default, since a mount may keep
// many volumes open). A volume also holds its 128 KiB $UpCase table, and
// each open File the one compression unit or WOF chunk it last decoded.
package ntfs
