// Package timeline builds a super-timeline of a VM's guest files across a
// range of points, from the points' file indexes (package index): no file
// data is read, and unchanged files cost one comparison of their index
// records.
//
// # Events
//
// For each file, a File event gives its MACB times (modified, accessed,
// changed, born) as the guest recorded them, at the first point of the
// range and again at each point where any of its times, size, mode, owner
// or inode differ from the point before. Besides, vmarchive's own events:
//
//   - Present: the path exists from this point (the first of the range, or
//     the first after one without it).
//   - Changed: the content differs from the point before: the content keys
//     differ, or (files without a key) the size or mtime does.
//   - Deleted: the path was in the point before and is not in this one.
//   - Renamed: a path gone and a path new are the same file (inode,
//     type, generation and birth time), as diff pairs renames.
//
// # Streaming
//
// Points are taken in time order, two at a time: each volume's entries of
// the point before and of this point are merged by path (both indexes are
// sorted by path), and events are handed out as found. Only the two
// indexes and the paths present on one side only (the rename candidates of
// one pair of points) are held in memory. Events come in point order, then
// volume, then path; consumers that want time order sort, as mactime and
// Timesketch do.
package timeline
