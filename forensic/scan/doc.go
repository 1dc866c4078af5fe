// Package scan looks for signs of ransomware between consecutive points
// of a VM, each point compared with the one before it, and finds the last
// clean point: the newest point before the first one that trips a signal.
//
// # Signals
//
//   - entropy: the share of a point's new chunk bytes (chunks at the
//     disk ranges the two maps differ in) that zstd could not shrink
//     below 97%. The catalog's chunk key records each object's stored
//     size and the map each extent's length, so this reads no chunk
//     (catalog.Repo.ChunkStoredRaw). The files whose changed data lies
//     mostly in such chunks are named.
//   - mass-delete: at least DeleteMin files of one extension deleted,
//     and more than DeleteShare of the files of that extension the point
//     before held (Veeam's published thresholds: 100 and 50%).
//   - mass-rename: at least RenameMin renames in one folder (Veeam: 200).
//     A rename is diff's R (same inode), or a file deleted while one
//     named like it plus an extension appeared in the same folder, the
//     way ransomware that writes a new file and removes the old renames.
//   - ransom-note, ransom-extension: an added or renamed file whose name
//     matches a note pattern or ends in a known extension of the rules.
//   - yara: matches of YARA rules (the yara program, Debian's package
//     yara) over the files added or changed, read through the guest
//     readers into memory files: no guest data lands on disk.
//
// The files that changed come from package diff (the points' file
// indexes), so a scan costs about what changed, not the disk size.
//
// # Rules
//
// A rule file is lines of "key value" (# starts a comment); a user's file
// is read after the built-in default.rules, so notes, extensions and
// yara files add to the defaults and thresholds replace them.
package scan
