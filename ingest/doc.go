// Package ingest gets VM disks into the archive.
//
// In a format-2 repository (content-defined chunks) it reads the allocated
// spans of each disk in large segments on every core, marks each 4 KiB
// block (package chunker: zero, or whether a boundary may follow it),
// selects the boundaries in disk order, and stores the chunks on every
// core (catalog.Writer.Add) while their extents go to the disk's map in
// order; runs of zero blocks become holes. With a changed-areas list (CBT)
// it cuts again only around the changed areas, from the previous point's
// boundary before each until the new cut meets the old one, taking
// unchanged bytes from the old chunks instead of the source; the rest of
// the map is the previous point's.
//
// A format-1 repository gets fixed-size chunks at fixed offsets (fixed.go)
// until format 2 is switched on for every new repository.
//
// Image formats live in ingest/image, the vSphere source in ingest/vsphere.
package ingest
