// Package vmdk reads VMware virtual disks: the text descriptor
// (ParseDescriptor, also used for descriptors fetched from vSphere), hosted
// sparse extents (monolithicSparse, twoGbMaxExtentSparse), stream-optimized
// extents with compressed grains, and flat extents (monolithicFlat,
// twoGbMaxExtentFlat, vmfs).
//
// The layouts follow VMware's "Virtual Disk Format 5.0" specification.
// Delta disks (a parentCID other than ffffffff), VMFS sparse (COWD),
// seSparse, vsanSparse and raw device mappings are refused with
// image.ErrUnsupported.
package vmdk
