// Package ext4 reads ext2, ext3 and ext4 filesystems, read-only, over an
// io.ReaderAt. It depends on the standard library only.
//
// # Model
//
// Files are addressed by their ext4 inode number, which is stable across
// opens; the root directory is inode 2 and hard links share one inode. The
// API mirrors the project's guestfs.FS interface: Stat, Lookup, ReadDir,
// Open (a *File with a concurrent-safe ReadAt), Readlink, ListXattr and
// GetXattr, plus File.Extents and FS.Allocation for forensic block diffs.
//
// # On-disk structures
//
// Each on-disk structure is decoded in its own file (superblock.go,
// groupdesc.go, inode.go, extent.go, dirent.go, dxdir.go, xattr.go, acl.go),
// named after the kernel struct it mirrors (fs/ext4/ext4.h and friends).
// Bytes are read in one function and decoded in another; every offset is
// bounds-checked before slicing and no on-disk count is trusted.
//
// # Supported features
//
// 32- and 64-byte group descriptors (64bit), flex_bg, meta_bg, sparse_super
// and sparse_super2, bigalloc (bitmaps and group sizes count clusters of
// blocks; extents still address blocks), 128-byte and larger inodes, huge_file, 34-bit
// timestamps with nanoseconds, extents (unwritten extents read as zeros) and
// ext2/3 indirect block maps, holes, inline_data files and directories,
// linear and hashed (htree) directories with the legacy, half_md4 and tea
// hashes in their signed and unsigned variants, casefold directories,
// fast/slow/inline symlinks, device nodes, fifos and sockets, extended
// attributes in the inode body, in an external block and in EA inodes, and
// POSIX ACLs converted to the Linux system.posix_acl_* xattr format.
//
// # Deleted files
//
// DeletedInodes lists the regular files whose inodes are free in the
// inode bitmap (the used part of each inode table, as bg_itable_unused
// bounds it), each with a state: Recoverable when every block its map
// names is free in the block bitmap, Reused when some is allocated again,
// NoData when the delete cleared the map. OpenDeleted reads a Recoverable
// one, byte for byte what The Sleuth Kit's icat gives. What is left
// depends on who deleted: debugfs rm and kill_file free the inode and its
// blocks but keep i_block and i_size (Recoverable until reused); the
// kernel truncates first (i_size 0, empty extent header) and fuse2fs
// punches the blocks out (i_size kept, empty extent header), so both
// leave NoData. Names are not recovered: ext4 leaves a deleted entry in
// the slack of its directory block only until that space is reused.
//
// # Integrity
//
// With metadata_csum, the checksums of the superblock, group descriptors,
// inodes, extent tree blocks, directory leaf and index blocks and xattr
// blocks are verified. A mismatch is an error wrapping ErrCorrupt that names
// the object (inode, block or group) and fails only operations that need
// that object. Options.IgnoreChecksums turns verification off. An inode
// whose i_size is beyond what its block map can address (a size with the
// top bit set would otherwise be negative) is corrupt too. A symlink
// target ends at its first NUL byte, as Linux reads it.
//
// A directory entry that is sound in structure but cannot be right (an
// empty name, a "/" or a NUL in the name, an inode number past
// s_inodes_count) is left out of ReadDir and Lookup while the rest of the
// directory reads; FS.Damage lists each one once, saying where and why.
//
// Unknown incompatible features are refused with an error wrapping
// errors.ErrUnsupported. Encrypted (fscrypt) inodes can be stated but
// Open, ReadDir, Lookup and Readlink on them fail with ErrEncrypted.
//
// A volume whose journal needs recovery (the needs_recovery flag) is read as
// it is on disk, like debugfs and The Sleuth Kit do: the journal is not
// replayed. Info reports NeedsRecovery and a warning, because the most
// recent metadata changes may be missing or half-applied.
package ext4
