// Package partition reads partition tables and LVM2 volume groups from a disk
// image given as an io.ReaderAt. It understands:
//
//   - MBR (DOS) tables, including the extended/logical (EBR) chain, numbered
//     the way Linux numbers them (primaries 1-4, logicals from 5);
//   - GPT, with header and entry-array CRC checks and a fallback to the backup
//     header when the primary one is damaged, behind a protective or hybrid MBR;
//   - 512- and 4096-byte logical sectors (detected from where the GPT header is);
//   - LVM2 physical volumes: the label, the text metadata in the metadata area
//     ring buffer, and linear logical volumes, exposed as io.ReaderAt.
//
// The package imports nothing outside the standard library.
//
// # Errors
//
// Damaged structures yield errors wrapping [ErrCorrupt] that name the structure
// and its byte offset. Features the package recognises but does not implement
// (striped, mirrored, thin or snapshot logical volumes, physical volumes that
// are not on the scanned disk) wrap [errors.ErrUnsupported]. Nothing read from
// the disk is trusted to size an allocation beyond what the device holds.
//
// # Concurrency
//
// Tables and volume groups are plain values, never changed after they are
// returned. The readers returned for logical volumes keep no state and are safe
// for concurrent use when the underlying io.ReaderAt is.
package partition
