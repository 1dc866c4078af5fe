// Package fs presents a repository as a read-only FUSE tree:
//
//	MOUNT/<vm>/latest -> <newest point>        symlink
//	MOUNT/<vm>/<point>/                        point = UTC RFC 3339 time
//	MOUNT/<vm>/<point>/<disk>.img              the whole disk, byte for byte
//	MOUNT/<vm>/<point>/<disk>/p<N>.img         partition N as in the partition table
//	MOUNT/<vm>/<point>/<disk>/p<N>/            the guest filesystem of partition N
//	MOUNT/<vm>/<point>/<disk>/fs.img, fs/      an unpartitioned disk's filesystem
//	MOUNT/<vm>/<point>/<disk>/lvm/<vg>/<lv>.img, <lv>/   LVM logical volumes
//	MOUNT/<vm>/<point>/<disk>/volumes.txt      the partition table, and why a
//	                                           volume shows no filesystem
//	MOUNT/<vm>/<point>/config/                 captured VM configuration
//
// The VM and point levels are read from the catalog on every lookup, with
// one-second kernel timeouts, so points ingested while mounted appear by
// themselves. Everything under a point never changes: long timeouts and
// FOPEN_KEEP_CACHE let the kernel cache it.
//
// Inode numbers are a 64-bit hash of the node's identity (its path for
// synthetic nodes; the volume and the guest inode number inside a guest
// filesystem), so they are stable across mounts and hard links inside a
// guest share one.
//
// Errors become errno values in errno.go only.
package fs
