// Package index keeps a per-point index of the guest files of a VM's
// disks, so that finding a file across many points reads one small catalog
// value per point instead of walking every guest filesystem.
//
// # What is recorded
//
// Build walks every volume of every disk of a point through package
// guestfs and records, per directory entry: disk, volume, path, mode
// (type and permissions), uid, gid, size, mtime, ctime, crtime, atime, inode
// number and generation, link count and, where cheap, a content key. No
// file data is read. Indexes of format 1 (before atime and generation)
// stay readable; they give both as zero.
// A volume without a readable filesystem is recorded with its error; it
// does not fail the point.
//
// # Content keys
//
// The content key of a regular file is the first 16 bytes of
//
//	BLAKE3("vmarchive index content key v2\x00" ‖ uvarint(size) ‖
//	       per extent in file order:
//	       varint(logical) varint(disk offset) uvarint(length) ‖
//	       per map extent the extents touch, once, in disk order:
//	       uvarint(offset) uvarint(length) ‖ id)
//
// where disk offsets are the volume's offset on the disk plus the extent's
// physical offset and the map extents are those of the point's disk map
// (catalog.Extent: fixed-size chunks in format 1, content-defined ones in
// format 2). v1 keys named chunks by index and chunk size; the domain
// changed with the definition, so a stored index built before holds keys
// that never equal new ones (a diff then compares those files' bytes). Two
// files with equal keys have equal bytes: the same extents over chunks
// with the same content. Different keys say nothing (a copied or moved
// file differs in extents); hash the files to know. Files whose bytes the
// extents do not describe get no key: logical volumes (no disk offset),
// non-empty files without extents (ext4 inline data), files whose extents
// could not be read. Known gap: the guestfs extents do not say whether an
// ext4 extent is unwritten (reads as zeros), so a preallocated extent later
// written with exactly the bytes already on disk keeps its key.
//
// # Storage
//
// The index is encoded (format.go) and kept as the catalog's derived data
// "files" of the point (catalog.Repo.PutDerived): rebuildable, not in the
// store, dropped by `catalog rebuild` and rebuilt lazily by Load. A point
// whose disks have the same names, sizes and maps as the VM's point before
// takes that point's stored index as it is (same bytes, same maps, so the
// same trees and content keys): re-ingesting an unchanged VM walks nothing.
// `vmarchive ingest` of image files walks the images' guest trees while
// their chunks are stored (Start), and adds the content keys once the maps
// exist (Pending.Finish): the same bytes as the point's, without
// decompressing them back from the store and mostly in the time of the
// ingest. If an image's size or mtime changed meanwhile, the store is
// walked instead.
package index
