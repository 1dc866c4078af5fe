package fs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/fs/tree"
	"github.com/vmarchive/vmarchive/guestfs"
)

// newPointNode is the directory of vm's point at t: its disks and
// configuration. Its manifest is read on first use, not when the point is
// looked up (ls -l of a VM stats every point).
func newPointNode(m *mount, vm string, t time.Time) *listDir {
	id := []string{"point", vm, catalog.FormatPointTime(t)}
	d := &listDir{m: m, ino: inoOf(id...), mtime: t}
	d.load = func(ctx context.Context) ([]entry, error) {
		p, err := m.archive.Point(vm, id[2])
		if err != nil {
			return nil, err
		}
		return pointEntries(m, p, id), nil
	}
	return d
}

// pointEntries are the disks (as .img and directory) and config of p.
func pointEntries(m *mount, p *catalog.Manifest, id []string) []entry {
	var ents []entry
	for _, it := range tree.PointItems(p) {
		// Identities use the shown name too: config/ and a disk's d.img
		// must not share an inode number with a disk named so.
		nid := append(append([]string(nil), id...), it.Name)
		e := entry{name: it.Name, mode: syscall.S_IFDIR, ino: inoOf(nid...)}
		switch disk, size := it.Disk, it.Size; it.Kind {
		case tree.DiskImage:
			e.mode = syscall.S_IFREG
			e.node = func() attrer {
				return &readerFile{m: m, ino: inoOf(nid...), size: size, mtime: p.Time, open: func(ctx context.Context) (io.ReaderAt, error) {
					r, _, err := m.openDisk(ctx, p, disk)
					return r, err
				}}
			}
		case tree.DiskDir:
			e.node = func() attrer { return newDiskDir(m, p, disk, nid) }
		case tree.ConfigDir:
			e.node = func() attrer { return newConfigDir(m, p, nid) }
		}
		ents = append(ents, e)
	}
	return ents
}

// diskEntry is the name of disk's directory in a point or a comparison
// (and, with .img, of its image). A name ingest now refuses but an older
// repository holds (catalog.ReservedDiskName: config, x.img, ...) gets a
// "~" appended (catalog.MountDiskName), so it collides with nothing.
func diskEntry(disk string) string { return catalog.MountDiskName(disk) }

// newConfigDir holds the captured VM configuration files.
func newConfigDir(m *mount, p *catalog.Manifest, id []string) *listDir {
	d := &listDir{m: m, ino: inoOf(id...), mtime: p.Time, private: true}
	d.load = func(ctx context.Context) ([]entry, error) {
		var ents []entry
		for name, c := range p.Config {
			c := c
			fid := append(append([]string(nil), id...), name)
			ents = append(ents, entry{name: name, mode: syscall.S_IFREG, ino: inoOf(fid...), node: func() attrer {
				return &readerFile{m: m, ino: inoOf(fid...), size: c.Size, mtime: p.Time, open: func(ctx context.Context) (io.ReaderAt, error) {
					b, err := m.archive.ReadBlob(ctx, c.ID, int(c.Size))
					if err != nil {
						return nil, fmt.Errorf("%s config %s: %w", p.ID(), name, err)
					}
					return bytes.NewReader(b), nil
				}}
			}})
		}
		return ents, nil
	}
	return d
}

// newDiskDir opens the disk on first use and lists its volumes: each as
// <name>.img and, when it holds a filesystem we read, as <name>/.
func newDiskDir(m *mount, p *catalog.Manifest, disk string, id []string) *listDir {
	d := &listDir{m: m, ino: inoOf(id...), mtime: p.Time}
	d.load = func(ctx context.Context) ([]entry, error) {
		dr, size, err := m.openDisk(ctx, p, disk)
		if err != nil {
			return nil, err
		}
		gd, err := guestfs.OpenDisk(dr, size, m.opts.Guest)
		if err != nil {
			m.errs.log("open disk", fmt.Errorf("%s: %w", p.DiskRef(disk), err))
			gd = nil
		}
		vols := map[string]*volume{} // by volume name, made before volumes.txt reads them
		report := &textRef{}
		t := newNest()
		for _, it := range tree.DiskItems(gd) {
			nid := append(append([]string(nil), id...), it.Name)
			switch v := it.Volume; it.Kind {
			case tree.VolumesText:
				t.add(it.Name, entry{mode: syscall.S_IFREG, ino: inoOf(nid...), node: func() attrer {
					return &textFile{m: m, ino: inoOf(nid...), mtime: p.Time, ref: report, text: func() string {
						return tree.VolumesReport(p, disk, gd, err, func(name string) []string {
							if vol := vols[name]; vol != nil {
								return vol.edgeNotes()
							}
							return nil
						})
					}}
				}})
			case tree.VolumeImage:
				t.add(it.Name, entry{mode: syscall.S_IFREG, ino: inoOf(nid...), node: func() attrer {
					return &readerFile{m: m, ino: inoOf(nid...), size: v.Size, mtime: p.Time, open: func(context.Context) (io.ReaderAt, error) {
						return v.Reader, nil
					}}
				}})
			case tree.VolumeFS:
				key := strings.Join(nid, "\x00")
				vol := &volume{m: m, fs: v.FS, key: key, where: fmt.Sprintf("%s/%s/%s", p.ID(), disk, v.Name), disk: disk, name: v.Name, report: report}
				vols[v.Name] = vol
				root := v.FS.Root()
				t.add(it.Name, entry{mode: syscall.S_IFDIR, ino: guestIno(key, root), node: func() attrer {
					return &guestNode{vol: vol, gino: root}
				}})
			}
		}
		return t.entries(m, id, p.Time), nil
	}
	return d
}

// nest nests volume names with slashes ("lvm/vg/lv.img") into directories.
type nest struct{ *tree.Nest[entry] }

func newNest() nest { return nest{tree.NewNest[entry]()} }

func (t nest) add(name string, e entry) { t.Add(name, e) }

func (t nest) entries(m *mount, id []string, mtime time.Time) []entry {
	var out []entry
	for name, e := range t.Files {
		e.name = name
		out = append(out, e)
	}
	for _, name := range t.Shown() {
		sub, sid := nest{t.Dirs[name]}, append(append([]string(nil), id...), name)
		out = append(out, entry{name: name, mode: syscall.S_IFDIR, ino: inoOf(sid...), node: func() attrer {
			d := &listDir{m: m, ino: inoOf(sid...), mtime: mtime}
			d.load = func(context.Context) ([]entry, error) { return sub.entries(m, sid, mtime), nil }
			return d
		}})
	}
	return out
}
