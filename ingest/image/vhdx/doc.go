// Package vhdx reads Microsoft VHDX images (Hyper-V, Azure): fixed,
// dynamic and differencing disks with 512- or 4096-byte logical sectors,
// as laid out in [MS-VHDX] "Virtual Hard Disk v2 (VHDX) File Format".
//
// Headers and region tables are checked with their CRC-32C; the current
// header is the valid one with the higher sequence number, and a damaged
// first region table falls back to the second. Metadata items and BAT
// entries are bounds-checked against the file before any read.
//
// # The log
//
// A VHDX whose header names a log (a non-zero log GUID) that holds a
// valid entry was not closed cleanly: some metadata updates live only in
// the log. Such an image is refused with ErrUnsupported, not replayed:
// replaying means writing, and this package only reads. The message says
// how to replay it (qemu-img check -r all on a copy, or attaching it once
// in Hyper-V). A log GUID without any valid entry is read as is, as QEMU
// does.
//
// # Block states
//
// Payload blocks that are not present read from the parent in a
// differencing disk and as zeros otherwise; zero, unmapped and undefined
// blocks read as zeros; partially present blocks (differencing disks
// only) consult the sector bitmap of their chunk: a set bit (LSB first)
// is this file's sector, a clear one the parent's.
package vhdx
