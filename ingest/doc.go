// Package ingest gets VM disks into the archive: it reads each disk as
// fixed-size chunks aligned to disk offsets, skips what the source says is
// unallocated, takes unchanged chunks from the VM's previous point when a
// changed-areas list is given, and hands the rest to the catalog writer on
// every core. Image formats live in ingest/image.
package ingest
