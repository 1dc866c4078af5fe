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
// # Deleted files
//
// With Options.Deleted (vmarchive mount --deleted), the root of each ext2/3/4
// and NTFS guest filesystem has a hidden .deleted/ (deleted.go), not
// listed but there when looked up, shadowing a guest entry of that name:
//
//	p<N>/.deleted/deleted.txt   every deleted file found: state (recoverable,
//	                            reused, no-data, damaged), size, times, name
//	p<N>/.deleted/ino-<N>       a recoverable ext4 file's old content
//	p<N>/.deleted/mft-<N>       a recoverable NTFS file's old content
//	p<N>/.usnjrnl.csv           NTFS: the change journal as CSV (forensic/usn),
//	                            made at lookup; absent without a journal
//
// The list comes from guestfs.Undeleter (ext4.FS.DeletedInodes,
// ntfs.FS.DeletedRecords) when .deleted is first listed or entered, and is
// kept while the kernel keeps the node. A reused file (a block or cluster
// allocated again) is listed but has no file. Like raw images, .deleted
// and its files belong to the mounting user (and ImageGroup): a deleted
// file has no guest permissions left to enforce.
//
// # Who may read what
//
// Without AllowOther only the mounting user enters the mount (FUSE's own
// rule). With it, the mount adds default_permissions and the kernel checks
// the modes shown, which are:
//
//   - ext2/3/4 files: the guest's own owners and modes.
//   - FAT and NTFS files, which carry no Unix owners: Options.FAT and
//     Options.NTFS, by default the mounting user and group with umask 077
//     under AllowOther (022 without): FAT as Linux vfat (0777 &^ umask),
//     NTFS as ntfs-3g's defaults here (files 0644, directories 0755,
//     &^ umask). Another user reads them only if asked for, e.g. umask 022.
//   - What the mount makes itself (every raw image: <disk>.img, p<N>.img,
//     fs.img, LVM volumes; config/ and its files; volumes.txt; a
//     comparison's changes.txt and changes.json): owned by the mounting
//     user, 0400 (config/ 0500), or 0440 (0550) with Options.ImageGroup as
//     the group. A raw image holds every guest file whatever its mode, and
//     the configuration and reports are not the guest's to permit, so no
//     other user reads them unless given that group.
//   - The levels that lead to guest trees (the root, VMs, points, disk
//     and LVM directories, .compare and its pairs): 0555.
//
// # Names
//
// Disk names never collide with the tree's own names: ingest refuses a
// disk named config, latest, changes.txt or changes.json, or ending in
// .img, in any case (catalog/format.ReservedDiskName), and two disks whose
// names differ only in case. A point of an older repository that holds
// such a disk shows it with a "~" appended (config~/ and config~.img,
// d.img~/ and d.img~.img), a character no disk name contains; its inode
// numbers follow the shown name, and find prints and accepts the same
// paths (catalog.MountDiskName).
//
// The VM and point levels are read from the catalog on every lookup, with
// one-second kernel timeouts, so points ingested while mounted appear by
// themselves. They come from the catalog's point keys alone (cached by the
// catalog until it changes); a point's manifest is read when the point's
// directory is first listed or entered, and a VM's listing makes no node
// per point (namesOnly), so ls of a VM with hundreds of points costs one
// key scan. Everything under a point never changes: long timeouts and
// FOPEN_KEEP_CACHE let the kernel cache it.
//
// Inode numbers are a 64-bit hash of the node's identity (its path for
// synthetic nodes; the volume and the guest inode number inside a guest
// filesystem), so they are stable across mounts and hard links inside a
// guest share one.
//
// Errors become errno values in errno.go only.
//
// volumes.txt is written when read: besides the table and what each volume
// holds, it says what was decided for an odd disk (a table with no usable
// entry whose whole disk holds a filesystem) and lists, once each, the
// damaged parts a reader left out while reading the rest, such as a
// directory entry with an impossible name or inode number; the log names
// each of those once too. When it grows, the kernel is told to drop its
// cached size and pages (report.go), so its text is never cut at a size
// the kernel cached.
//
// # Requests per file
//
// A walk of small files (tar, rsync, a virus scanner) is bound by round
// trips through /dev/fuse, each several context switches, not by reading.
// So the mount answers OPEN and FLUSH with ENOSYS, after which the kernel
// sends neither (nor RELEASE) for the rest of the mount: every file is
// read-only and stateless, a read opens a guest file on a small per-volume
// cache (noopen.go). And once a second small file of a directory is read
// (the first, in a volume where another directory was pushed in the last
// two seconds), the directory's other small files (up to 64 KiB each,
// 4 MiB per step) are stored in the kernel's page cache with
// FUSE_NOTIFY_STORE before they are asked for (push.go). A tar of 100 000 small files then sends
// about one READ per directory step instead of OPEN, READ and RELEASE per
// file (bench/xfs.sh).
//
// Whatever a reader lists, a guest directory never hands the kernel an
// empty name, ".", "..", a name with "/" or NUL, or one name twice (the
// first is kept): such entries are left out at the edge (edge.go), logged
// once per directory and listed in volumes.txt as "bad name, left out".
//
// # Comparison view
//
//	MOUNT/<vm>/.compare/                           the adjacent pairs <P1>..<P2>
//	MOUNT/<vm>/.compare/<A>..<B>/changes.txt       the file-level diff (diff.WriteText)
//	MOUNT/<vm>/.compare/<A>..<B>/changes.json      the same report as JSON
//	MOUNT/<vm>/.compare/<A>..<B>/<disk>/<volume>/  B's changed paths
//
// .compare is not listed in <vm>/ (its listing stays points and latest)
// but is there when looked up. It lists each pair of adjacent points,
// oldest first, and accepts any <A>..<B> where A and B are point names
// (canonical RFC 3339, as listed) or "latest"; any other name, or a point
// the VM does not have, is ENOENT. A pair naming latest follows it (with
// the one-second timeout of the VM level).
//
// Stat of a pair computes nothing; the first lookup or readdir inside it
// runs diff.Compare (file level, no block refinement), detached from the
// asking request and bounded by ten read timeouts; concurrent askers wait
// for the one computation, an interrupted asker gets EINTR and the
// computation goes on. Each VM keeps its last 8 comparisons. A comparison
// that fails (damaged catalog or disk map, a partition table that cannot
// be read) is EIO, logged once, and not kept: the next look tries again. A
// volume or a file that cannot be compared is not an error: changes.txt
// says why ("!" lines).
//
// Under <disk>/<volume>/ (nested as lvm/<vg>/<lv> like the point's own
// tree) are B's version of every added, modified, metadata-changed,
// type-changed, renamed or unknown ("?": content unreadable) path and its
// parent directories, nothing else;
// removed paths are only in changes.txt. Files, symlinks and other
// non-directories are B's own nodes: same attributes, xattrs, content and
// inode numbers as under MOUNT/<vm>/<B>/. Directories carry B's
// attributes and xattrs but list only the names on the way to a change,
// so they have their own inode numbers (a hash of vm, pair name, resolved
// points and path) and report one link, the convention for "not counted".
package fs
