// Package qcow2 reads QEMU copy-on-write images, versions 2 and 3: L1/L2
// tables, compressed clusters (deflate), zero clusters, extended L2
// entries with subclusters, and backing files opened through a caller's
// opener. Encryption, external data files, zstd compression and internal
// snapshots other than the active state are not read; the first three are
// refused with image.ErrUnsupported.
//
// Header fields a reader does not need (refcount table and order, the
// snapshot table) are still checked as QEMU checks them: an image qemu-img
// refuses to open is damaged, and is refused here too. The dirty and
// corrupt bits are not refused: QEMU reads such images read-only as well.
//
// The layout follows docs/interop/qcow2.txt of the QEMU source tree.
package qcow2
