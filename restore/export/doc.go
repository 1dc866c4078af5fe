// Package export writes a point's disk as an image file another
// hypervisor can use: raw, qcow2 (v3, for QEMU/KVM), streamOptimized VMDK
// (for vSphere and OVF import) or dynamic VHDX (for Hyper-V).
//
// # Streaming and sparseness
//
// Every format is written front to back, so any of them can go to a pipe.
// qcow2 and VHDX put their tables before the data: their layout is
// computed up front from the disk's map alone (which extents are holes),
// one cheap walk that reads no chunk, then the data follows in disk
// order. A streamOptimized VMDK needs no such pass: its grain tables and
// directory come after the grains they point to.
//
// Holes of the map stay holes: unallocated clusters in qcow2 (64 KiB),
// grains absent in the VMDK (64 KiB), blocks in state PAYLOAD_BLOCK_ZERO
// in the VHDX (1 MiB blocks, as Microsoft advises for Linux guests; a
// smaller block keeps more of a sparse disk out of the file). Written to a
// regular file, every run of zeros the writer emits (holes of a raw disk,
// zero parts of an allocated cluster, padding) becomes a seek, so the file
// is sparse on the host too; to a pipe they are written as zeros.
//
// The layouts are the ones qemu-img reads and checks clean; the tests
// compare each file with the point using qemu-img compare and read it back
// with package ingest/image.
package export
