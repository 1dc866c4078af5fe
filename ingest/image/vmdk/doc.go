// Package vmdk reads VMware virtual disks: the text descriptor
// (ParseDescriptor, also used for descriptors fetched from vSphere), hosted
// sparse extents (monolithicSparse, twoGbMaxExtentSparse), stream-optimized
// extents with compressed grains, and flat extents (monolithicFlat,
// twoGbMaxExtentFlat, vmfs).
//
// The layouts follow VMware's "Virtual Disk Format 5.0" specification.
// Delta disks (a parent file name, a delta createType, or a parentCID other
// than ffffffff and govmomi's 00000000), VMFS sparse (COWD),
// seSparse, vsanSparse and raw device mappings are refused with
// image.ErrUnsupported. Sparse headers are held to what qemu-img opens
// (512 entries per grain table at most, a nonzero capacity, an overhead
// inside the file).
package vmdk
