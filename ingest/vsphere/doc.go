// Package vsphere captures virtual machines from vCenter or ESXi through
// govmomi into the archive, one recovery point per VM per run.
//
// # Per VM
//
// A run removes snapshots left behind by an earlier crashed run (their names
// start with SnapshotPrefix), optionally enables changed block tracking,
// takes a snapshot without memory (quiesced on request), reads every virtual
// disk as of that snapshot, captures the configuration (the snapshot's
// config as config.json, the .vmx and .nvram files), commits the point and
// removes the snapshot. The snapshot is removed on every path: success,
// error and cancellation (removal runs on a context that is not cancelled).
//
// # Reading disks
//
// Disks are read with HTTP range requests against the datastore /folder
// endpoint: the disk's descriptor is fetched and parsed (ingest/image/vmdk),
// then its flat extents are read ahead of the pipeline in windows of up to
// 16 MiB (one range request each), Options.Streams+1 windows per disk in
// flight or waiting (smaller windows when several VMs are read at once:
// 96 MiB in all), under an optional byte rate shared by all disks. The
// windows follow exactly the areas the pipeline will read (every chunk
// touching the allocated areas, or the changed areas themselves), so an
// incremental run moves only the changed bytes. Datastore transfers use a
// transport of their own that keeps one connection per stream. Connected to vCenter,
// requests go straight to the ESXi host running the VM with a generic
// service ticket (Options.ViaVCenter turns this off); a ticket the host
// rejects is replaced at once, and once the host is seen to take a ticket
// only once, every request gets a fresh one. A flat file shorter
// than its extent, or a thin one, reads as zeros up to the capacity.
//
// Covered: flat disks (VMFS, NFS and local datastores; monolithicFlat,
// vmfs, twoGbMaxExtentFlat descriptors, ZERO extents) whose snapshot view is
// a base disk. Refused per disk with a reason, while the other disks of the
// VM are still captured (the point then carries config/refused-disks.txt):
// vSAN and vVols objects (not files behind /folder), disks whose snapshot
// view is itself a delta (sparse or seSparse) because the VM already had
// snapshots of its own, raw device mappings, and any other backing.
// Whether a disk is a delta is the API's answer (the backing's Parent) and
// the descriptor's createType or parentFileNameHint, never parentCID
// alone: govmomi writes parentCID=00000000 for a base disk. Names from
// vCenter and datastore paths are quoted in messages.
//
// A full read also ends chunks where large guest files' data starts and
// ends (ingest.FileBoundaries), found by walking the partition table and
// filesystem metadata while the disk is read. The walk reads through a
// cache of 64 KiB blocks, not the read-ahead (see walk.go). Measured in
// the simulator: the demo disk (128 MiB, FAT32 + ext4) 9 range requests,
// 576 KiB (58 requests uncached); a 400 MiB ext4 holding Python's library
// (mke2fs -d, 54 MiB in 1,400 files) 71 requests, 4.4 MiB (1,611
// uncached), beside the 25 requests of the disk's own read. The walk's
// requests, one per volume at a time, come on top of Options.Streams and
// count in Result.Read and Result.Walk. BenchmarkMovedFiles: a second point of a 64 MiB ext4 disk
// whose 33 MiB of files moved stores 1.5 KiB with them, 4.1 MiB by content
// alone, for 3 requests and 192 KiB of walk per point. A walk that fails
// is logged and the chunks are cut by content alone; an incremental
// (changed areas) read walks nothing.
//
// # Changed block tracking
//
// With Options.CBT, tracking is enabled when off. Each disk's changeId is
// kept in the point (catalog.DiskRecord.ChangeID). The next run asks
// QueryChangedDiskAreas for the areas changed since that id and reads only
// those; the rest of the disk is taken from the previous point, which keeps
// every point a full point. The first run asks with changeId "*" for the
// allocated areas. A rejected changeId, a resized disk or a reset of
// tracking (a new change-tracking UUID) falls back to a full read.
//
// # Credentials
//
// Config follows govc: GOVC_URL, GOVC_USERNAME, GOVC_PASSWORD (a value
// naming an existing file is read from it, as govc does), GOVC_INSECURE,
// GOVC_TLS_CA_CERTS and GOVC_TLS_KNOWN_HOSTS. The password is never put in a
// URL, error, log line or the archive: it is taken out of the URL before
// any client is made, and errors are scrubbed of it.
package vsphere
