// Package xfs reads XFS filesystems, read-only, over an io.ReaderAt. It
// depends on the standard library only.
//
// # Model
//
// Files are addressed by their XFS inode numbers (AG number, block and
// slot packed as the kernel does), stable across opens; hard links share
// one. The API mirrors the project's guestfs.FS interface: Stat, Lookup,
// ReadDir, Open (a *File with a concurrent-safe ReadAt), Readlink,
// ListXattr and GetXattr, plus File.Extents.
//
// # On-disk structures
//
// One file per structure, named after the libxfs struct it mirrors
// (superblock.go: xfs_dsb; inode.go: xfs_dinode; bmap.go: xfs_bmbt_rec and
// the bmap B+tree; dir.go and dirblock.go: short-form and data blocks of
// directories; attrleaf.go: xfs_attr_leafblock and xfs_da_intnode;
// xattr.go: short-form attributes, remote values and xfs_acl; symlink.go).
// Every offset is bounds-checked before slicing and no on-disk count is
// trusted; B+tree walks are depth-limited and detect loops.
//
// # Supported features
//
// Version 4 and version 5 superblocks; v5 metadata CRCs (superblock,
// inodes, bmap B+tree blocks, directory data blocks, attribute leaf and
// node blocks, remote symlink and attribute blocks) are verified, and a
// mismatch is an error wrapping ErrCorrupt naming the structure. Block
// sizes 512 B to 64 KiB, any directory block size, ftype, sparse inodes,
// bigtime (timestamps to 2486), nrext64 (64-bit extent counters), v1-v3
// inodes. Data forks in local, extents and B+tree form; holes and
// unwritten (preallocated) extents read as zeros. Directories in short
// form, block, leaf, node and B+tree form are listed from their data
// blocks (so every form reads the same way). Symlinks local and remote;
// device nodes, FIFOs and sockets. Extended attributes in short form,
// leaf and node form with remote values, in the user, trusted and
// security namespaces; POSIX ACLs are listed (to root, as the kernel does)
// as system.posix_acl_access/_default in the Linux xattr format, followed
// by their own trusted.SGI_ACL_* names. Parent pointers are not listed.
//
// # Damage
//
// Damage stays local. A damaged inode is an error (wrapping ErrCorrupt
// and naming the inode) for the calls that read it, and only for them. A
// directory data block that fails its checks, or an entry with a bad name
// or inode number, is left out of the listing while the other blocks and
// entries read; Damage lists each such part once and DirDamaged names the
// directory (guestfs logs them and keeps diff and the index from taking
// the listing as complete). Without ftype, an entry whose inode cannot be
// read is left out too and Lookup of its name returns that inode's error.
//
// Files on a real-time device cannot be read (ErrRealtime): that device
// is not part of the volume. The log is never replayed; Info reports a
// dirty log, and the volume reads as a norecovery mount shows it.
package xfs
