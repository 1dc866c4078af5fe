package scan

import (
	"path"
	"slices"
	"strings"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/diff"
)

// changedFile is a regular file of the later point whose content is new
// there: added, modified, or renamed with its content changed.
type changedFile struct {
	disk, volume string
	ino          uint64
	size         int64
	path         string // <disk>/<volume><path>
}

// fileFacts fills f from the file changes of r and returns the files
// whose content is new in the later point.
func fileFacts(r *diff.Report, f *Facts) []changedFile {
	f.Deleted, f.Renames = map[string][]string{}, map[string][]string{}
	var files []changedFile
	for _, d := range r.Disks {
		for _, v := range d.Volumes {
			prefix := catalog.MountDiskName(d.Name) + "/" + v.Name
			gone := map[string]bool{}
			var added []string
			for _, c := range v.Changes {
				full := prefix + c.Path
				switch {
				case c.Status == diff.Deleted && isFile(c.A):
					f.Deleted[extension(c.Path)] = append(f.Deleted[extension(c.Path)], full)
					gone[c.Path] = true
				case c.Status == diff.Added && isFile(c.B):
					added = append(added, c.Path)
				case c.Status == diff.Renamed:
					dir := prefix + path.Dir(c.Path)
					f.Renames[dir] = append(f.Renames[dir], full)
					f.Added = append(f.Added, full)
				}
				if isFile(c.B) && (c.Status == diff.Added || c.Status == diff.Modified ||
					c.Status == diff.Renamed && slices.Contains(c.Fields, "content")) {
					files = append(files, changedFile{d.Name, v.Name, c.B.Ino, c.B.Size, full})
				}
			}
			for _, p := range added {
				f.Added = append(f.Added, prefix+p)
				// A new file named like a deleted one plus an extension
				// is that file renamed by a copy (write new, delete old).
				if ext := path.Ext(p); ext != "" && gone[strings.TrimSuffix(p, ext)] {
					dir := prefix + path.Dir(p)
					f.Renames[dir] = append(f.Renames[dir], prefix+p)
				}
			}
		}
	}
	return files
}

func isFile(e *diff.Entry) bool { return e != nil && e.Type == "file" }
