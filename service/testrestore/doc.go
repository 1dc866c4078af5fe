// Package testrestore restores a recovery point the way a user would,
// without writing anything out, to show that it can be restored: every
// disk is opened, its partition table read, every guest filesystem opened
// (through guestfs) and walked, and every regular file's data read, or a
// deterministic sample of them; what was walked is checked against the
// point's file index (package index).
//
// # Use
//
//	res, err := testrestore.Run(ctx, repo, m, testrestore.Options{Sample: 7})
//	err := testrestore.Check(ctx, repo, m, testrestore.Options{Sample: 7, Take: 2})
//
// Run returns an error only when the test itself could not run (ctx
// cancelled, the catalog unreadable); a point that fails the test is a
// Result with OK false and its first Problems, each naming the guest path
// as mounted ("disk0/p2/etc/hosts") and why. Check (the shape of the
// service's Tester) returns a failed test as a *FailedError instead. Run records the result as the
// point's derived data "testrestore" (catalog/doc.go); Load reads it back,
// for `vmarchive points` and the service. Only the process holding the
// repository may call Run, as it writes the catalog (and may store the
// file index, built when the point has none).
//
// # What fails a point
//
//   - a disk, partition table or map that cannot be read;
//   - a volume whose filesystem is recognised (ext4, NTFS, FAT, XFS) but does
//     not open, or a directory that cannot be listed;
//   - a file whose data cannot be read to its size;
//   - a file index that disagrees with the walk: a path only one of them
//     has, or a different type, size, mode, owner, link count, inode
//     number, time or content key (computed again from the file's extents
//     and the disk's map, as package index does).
//
// What the guest itself left damaged (a directory cycle, a name that
// cannot be a path element, a listing with damaged entries left out) is a
// warning: it was so when the point was captured, and the index says the
// same.
//
// # Sampling
//
// With Sample N > 1 the data of a file is read when a hash of the point
// and the file's path is below Take (default 1) modulo N: the same point
// always reads the same files, and successive points read different ones. Directories, metadata
// and the index are checked in full either way.
package testrestore
