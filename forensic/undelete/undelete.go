// Package undelete lists and extracts the deleted files of a point's guest
// filesystems (ext2/3/4 free inodes, NTFS MFT records not in use), read
// through guestfs.Undeleter: what `vmarchive deleted` prints and what the
// mount's hidden .deleted/ shows.
package undelete

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
)

// Name is the file name of deleted file ino of a filesystem of type
// fsType: mft-N on NTFS (its MFT record), ino-N elsewhere (its inode).
func Name(fsType string, ino uint64) string {
	if fsType == "ntfs" {
		return fmt.Sprintf("mft-%d", ino)
	}
	return fmt.Sprintf("ino-%d", ino)
}

// Report writes deleted.txt of one volume: a header naming it (where),
// then one tab-separated line per deleted file. err, when the listing
// stopped early, is said in the header.
func Report(w io.Writer, where, fsType string, ds []guestfs.Deleted, err error) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# deleted files of %s (%s), %d found\n", where, fsType, len(ds))
	if err != nil {
		fmt.Fprintf(&b, "# listing stopped early: %v\n", err)
	}
	b.WriteString("# file\tstate\tsize\tmodified\tchanged\tdeleted\tname\tnote\n")
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	quoted := func(s string) string {
		if s == "" {
			return "-"
		}
		return fmt.Sprintf("%q", s)
	}
	for _, x := range ds {
		fmt.Fprintf(&b, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", Name(fsType, x.Attr.Ino), x.State, x.Attr.Size,
			ts(x.Attr.Mtime), ts(x.Attr.Ctime), ts(x.Dtime), quoted(x.Name), quoted(x.Note))
	}
	_, werr := io.WriteString(w, b.String())
	return werr
}

// ErrNone is returned when no volume of the point can list deleted files.
var ErrNone = errors.New("no ext2/3/4 or NTFS volume")

// lists are the filesystem types whose readers list deleted files (the
// adapters of the others return errors.ErrUnsupported).
var lists = map[string]bool{"ext2": true, "ext3": true, "ext4": true, "ntfs": true}

// volumes calls fn for each volume of point m (of disk only, when not "")
// whose filesystem lists deleted files.
func volumes(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, disk string, fn func(disk string, v *guestfs.Volume, u guestfs.Undeleter) error) error {
	found := false
	for i := range m.Disks {
		name := m.Disks[i].Name
		if disk != "" && name != disk {
			continue
		}
		dr, err := repo.OpenDisk(ctx, m, name)
		if err != nil {
			return err
		}
		gd, err := guestfs.OpenDisk(dr, dr.Size(), nil)
		if err != nil {
			return fmt.Errorf("disk %q: %w", name, err)
		}
		for _, v := range gd.Volumes {
			u, ok := v.FS.(guestfs.Undeleter)
			if v.FS == nil || !ok || !lists[v.FS.Type()] {
				continue
			}
			found = true
			if err := fn(name, v, u); err != nil {
				return err
			}
		}
	}
	if !found {
		return fmt.Errorf("point %s: %w", m.ID(), ErrNone)
	}
	return nil
}

// Run writes the report of every volume of point m (of disk only, when
// not ""), each headed by disk/volume as the mount names it.
func Run(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, disk string, w io.Writer) error {
	return volumes(ctx, repo, m, disk, func(d string, v *guestfs.Volume, u guestfs.Undeleter) error {
		ds, err := u.Deleted()
		return Report(w, d+"/"+v.Name, v.FS.Type(), ds, err)
	})
}

// Extract writes the old content of the recoverable deleted file name
// (ino-N or mft-N, as Run lists it) of volume vol of disk to w.
func Extract(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, disk, vol, name string, w io.Writer) error {
	done := false
	err := volumes(ctx, repo, m, disk, func(d string, v *guestfs.Volume, u guestfs.Undeleter) error {
		if v.Name != vol || done {
			return nil
		}
		done = true
		prefix := strings.TrimSuffix(Name(v.FS.Type(), 0), "0") // ino- or mft-
		n, ok := strings.CutPrefix(name, prefix)
		ino, err := strconv.ParseUint(n, 10, 64)
		if !ok || err != nil || Name(v.FS.Type(), ino) != name {
			return fmt.Errorf("%s/%s: %q: want %sN, as the listing names the files", d, vol, name, prefix)
		}
		f, err := u.OpenDeleted(ino)
		if err != nil {
			return fmt.Errorf("%s/%s: %s: %w", d, vol, name, err)
		}
		_, err = io.Copy(w, io.NewSectionReader(f, 0, f.Size()))
		if err != nil {
			return fmt.Errorf("%s/%s: %s: %w", d, vol, name, err)
		}
		return nil
	})
	if err == nil && !done {
		err = fmt.Errorf("point %s: disk %q has no volume %q that lists deleted files", m.ID(), disk, vol)
	}
	return err
}
