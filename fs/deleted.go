package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"strings"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/vmarchive/vmarchive/forensic/undelete"
	"github.com/vmarchive/vmarchive/forensic/usn"
	"github.com/vmarchive/vmarchive/guestfs"
)

// deletedDirName is the hidden directory of deleted files at the root of a
// guest filesystem, there only with Options.Deleted; usnFileName the
// NTFS change journal as CSV beside it.
const (
	deletedDirName = ".deleted"
	usnFileName    = ".usnjrnl.csv"
)

// lookupUSN answers a lookup of .usnjrnl.csv in the root of an NTFS v:
// ok is false when the mount does not show hidden data, so the guest's
// own name applies. A volume without a journal has no such file.
func (g *guestNode) lookupUSN(ctx context.Context, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno, bool) {
	j, isJ := g.vol.fs.(guestfs.USNJournaler)
	if !g.vol.m.opts.Deleted || !isJ || g.vol.fs.Type() != "ntfs" || g.gino != g.vol.fs.Root() {
		return nil, 0, false
	}
	var b bytes.Buffer
	n, err := usn.WriteJournal(&b, g.vol.disk, g.vol.name, j)
	if err != nil {
		if n == 0 && errors.Is(err, iofs.ErrNotExist) {
			return nil, syscall.ENOENT, true
		}
		// The records read before the damage are still worth having.
		g.vol.m.errs.log("change journal", fmt.Errorf("%s: %w", g.vol.where, err))
	}
	var mtime time.Time
	if a, err := g.vol.fs.Stat(g.vol.fs.Root()); err == nil {
		mtime = a.Mtime
	}
	csv := b.String()
	f := &textFile{m: g.vol.m, ino: inoOf(g.vol.key, usnFileName), mtime: mtime, text: func() string { return csv }}
	if errno := entryOut(ctx, f, out, frozenTimeout); errno != 0 {
		return nil, errno, true
	}
	return g.NewInode(ctx, f, gofs.StableAttr{Mode: syscall.S_IFREG, Ino: f.ino}), 0, true
}

// lookupDeleted answers a lookup of .deleted in the root of v: ok is false
// when the mount does not show deleted files, so the guest's own name
// applies.
func (g *guestNode) lookupDeleted(ctx context.Context, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno, bool) {
	u, isU := g.vol.fs.(guestfs.Undeleter)
	if !g.vol.m.opts.Deleted || !isU || g.gino != g.vol.fs.Root() {
		return nil, 0, false
	}
	d := newDeletedDir(g.vol, u)
	if errno := entryOut(ctx, d, out, frozenTimeout); errno != 0 {
		return nil, errno, true
	}
	return g.NewInode(ctx, d, gofs.StableAttr{Mode: syscall.S_IFDIR, Ino: d.ino}), 0, true
}

// newDeletedDir lists deleted.txt and one file per recoverable deleted
// file of v, named by inode (ino-N) or MFT record (mft-N) number.
func newDeletedDir(v *volume, u guestfs.Undeleter) *listDir {
	id := func(name string) uint64 { return inoOf(v.key, deletedDirName, name) }
	var mtime time.Time
	if a, err := v.fs.Stat(v.fs.Root()); err == nil {
		mtime = a.Mtime
	}
	d := &listDir{m: v.m, ino: id(""), mtime: mtime, private: true}
	d.load = func(ctx context.Context) ([]entry, error) {
		ds, err := u.Deleted()
		if err != nil {
			// What was found before the error is still worth showing.
			v.m.errs.log("deleted files", fmt.Errorf("%s: %w", v.where, err))
		}
		report := deletedReport(v, ds, err)
		ents := []entry{{name: "deleted.txt", mode: syscall.S_IFREG, ino: id("deleted.txt"), node: func() attrer {
			return &textFile{m: v.m, ino: id("deleted.txt"), mtime: mtime, text: func() string { return report }}
		}}}
		for _, x := range ds {
			if x.State != guestfs.Recoverable {
				continue
			}
			name, ino := deletedName(v, x), x.Attr.Ino
			ents = append(ents, entry{name: name, mode: syscall.S_IFREG, ino: id(name), node: func() attrer {
				return &readerFile{m: v.m, ino: id(name), size: x.Attr.Size, mtime: x.Attr.Mtime, open: func(context.Context) (io.ReaderAt, error) {
					f, err := u.OpenDeleted(ino)
					if err != nil {
						return nil, fmt.Errorf("%s deleted inode %d: %w", v.where, ino, err)
					}
					return f, nil
				}}
			}})
		}
		return ents, nil
	}
	return d
}

// deletedName is the file name of x in .deleted.
func deletedName(v *volume, x guestfs.Deleted) string { return undelete.Name(v.fs.Type(), x.Attr.Ino) }

// deletedReport is deleted.txt: one tab-separated line per deleted file.
func deletedReport(v *volume, ds []guestfs.Deleted, err error) string {
	var b strings.Builder
	undelete.Report(&b, v.where, v.fs.Type(), ds, err)
	return b.String()
}
