// Package partition reads partition tables and LVM2 volume groups from a disk
// image given as an io.ReaderAt. It understands:
//
//   - MBR (DOS) tables, including the extended/logical (EBR) chain, numbered
//     the way Linux numbers them (primaries 1-4, logicals from 5);
//   - GPT, with header and entry-array CRC checks and a fallback to the backup
//     header when the primary one is damaged, behind a protective or hybrid MBR;
//   - 512- and 4096-byte logical sectors (detected from where the GPT header is);
//   - LVM2 physical volumes: the label, the text metadata in the metadata area
//     ring buffer, and linear logical volumes, exposed as io.ReaderAt;
//   - LVM2 thin pools, with no device-mapper: the dm-thin metadata on the
//     pool's metadata LV (superblock, data space map root, the device
//     details btree and the two-level mapping btree of device id ->
//     virtual block -> data block and time), so that thin LVs and thin
//     snapshots read as io.ReaderAt, zeros where the pool maps nothing.
//
// The package imports nothing outside the standard library.
//
// # Errors
//
// Damaged structures yield errors wrapping [ErrCorrupt] that name the structure
// and its byte offset. Features the package recognises but does not implement
// (striped, mirrored or old-style snapshot logical volumes, thin LVs with an
// external origin, physical volumes that are not on the scanned disk) wrap
// [errors.ErrUnsupported]. Nothing read from the disk is trusted to size an
// allocation beyond what the device holds.
//
// Thin pool metadata is read only when every block it uses passes the
// kernel's checks (checksums, block numbers, node sizes) and the superblock
// is clean: a pool flagged needs_check gives ErrCorrupt, and one captured
// while a metadata snapshot was held (reserve_metadata_snap) or using
// unknown incompatible features gives ErrUnsupported, rather than bytes
// read through a mapping that may be wrong. The log-free btrees are
// consistent at every commit, so a pool captured live reads as of its last
// commit, like the kernel after a crash.
//
// # Concurrency
//
// Tables and volume groups are plain values, never changed after they are
// returned. The readers returned for logical volumes keep no state and are safe
// for concurrent use when the underlying io.ReaderAt is.
package partition
