// Package image opens virtual disk image files read-only as a Disk: an
// io.ReaderAt over the virtual disk plus the list of ranges worth reading.
//
// Formats are detected by content, never by file name: raw (sparse files
// give their holes through SEEK_DATA/SEEK_HOLE), VMDK (sub-package vmdk:
// monolithicSparse, streamOptimized, monolithicFlat, twoGbMaxExtentSparse,
// twoGbMaxExtentFlat, vmfs), qcow2 v2/v3 (sub-package qcow2) with
// backing chains, VHD fixed, dynamic and differencing (sub-package vhd)
// and VHDX fixed, dynamic and differencing (sub-package vhdx). A
// differencing disk's parent is found beside it through its parent
// locators, as a qcow2 backing file is. Other formats that are recognised
// (VDI, QED, LUKS, VMFS sparse, seSparse, Parallels) fail with
// ErrUnsupported rather than being taken for raw disks. A VMDK text descriptor is found by its keys
// (createType=, an extent line, "# Disk DescriptorFile", version= first),
// past leading comments, blank lines and CRLF line ends.
//
// # What is refused
//
// The image given to Open may be a regular file or a block device; the
// files an image names (extents, backing files, parents) must be regular files, so
// a hostile image cannot make a caller read a host device. FIFOs,
// character devices, directories and empty files are refused before they
// are opened (a FIFO would block the open), with ErrNotImage. So is an
// image detected as raw whose size is not a whole number of 512-byte
// sectors or that reads as a VMDK descriptor; OpenAs(path, "raw") takes
// such a file byte for byte. Names from images are quoted in messages.
//
// # Errors
//
// Damaged images fail with errors wrapping ErrCorrupt that name the format,
// the structure, its offset and what was expected; images using features
// that are not implemented fail with errors wrapping ErrUnsupported (itself
// wrapping errors.ErrUnsupported). Open never trusts on-disk counts beyond
// what the file can hold.
package image
