// Package hashes computes the MD5, SHA-1 and SHA-256 of every regular file
// of a point's guest filesystems, in the file index's path order, and
// writes them as hashdeep or sha256sum/md5sum/sha1sum lines.
//
// # Cache
//
// The sums of a point are kept as the catalog's derived data "hashes" of
// the point (catalog.Repo.PutDerived), beside its file index: like the
// index they are a pure function of the point's chunks, so they belong
// with the point, are dropped with it by forget, and are computed again
// after `catalog rebuild`; nothing in the store changes. All three
// digests are computed in one read, so a later run with other
// algorithms is served from the cache too. Sums hit by store read errors
// are not kept. A file whose content key (package index) equals one in
// the cache of the VM's point before takes that file's sums without being
// read.
//
// # Encoding (version 1)
//
//	magic "VMAXHSH" (7) ‖ version (1 byte) = 1 ‖ uvarint plain length ‖ zstd frame of:
//	uvarint records ‖ per record, in output order:
//	    str path ‖ uvarint size ‖ flags (1 byte: 1 sums, 2 content key)
//	    ‖ [key 16 when flag 2] ‖ (flag 1: md5 16 ‖ sha1 20 ‖ sha256 32 | else: str error)
//
// str = uvarint length ‖ bytes. The path is the guest path as in the mount.
package hashes
