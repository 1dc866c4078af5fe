// Package vhd reads Microsoft Virtual Hard Disk (VHD, Virtual PC and
// Hyper-V generation 1) images: fixed, dynamic and differencing disks,
// as laid out in the "Virtual Hard Disk Image Format Specification" 1.0.
//
// The virtual size follows QEMU's rule so that reads match qemu-img:
// the CHS geometry's size for images written by Virtual PC and QEMU's
// default mode, the footer's current size for Hyper-V, Disk2vhd,
// XenServer and QEMU with force_size ("qem2"), or when the geometry is
// the maximum (or zero). Sector bitmaps are honoured: a sector whose bit
// is clear reads as zeros in a dynamic disk and from the parent in a
// differencing disk, as the specification says (QEMU ignores the bitmap
// of dynamic disks, but every writer zero-fills new blocks, so the two
// agree on real images).
//
// A differencing disk's parent is opened through a caller's opener with
// candidate names taken from the parent locators (the relative Windows
// path first) and the parent's Unicode name; the parent's unique id must
// match the one recorded in the child.
package vhd
