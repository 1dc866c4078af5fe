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
	for i := range p.Disks {
		disk := p.Disks[i].Name
		size := p.Disks[i].Size
		// Identities use the shown name too: config/ and a disk's d.img
		// must not share an inode number with a disk named so.
		img := append(append([]string(nil), id...), diskEntry(disk)+".img")
		ents = append(ents, entry{name: diskEntry(disk) + ".img", mode: syscall.S_IFREG, ino: inoOf(img...), node: func() attrer {
			return &readerFile{m: m, ino: inoOf(img...), size: size, mtime: p.Time, open: func(ctx context.Context) (io.ReaderAt, error) {
				r, _, err := m.openDisk(ctx, p, disk)
				return r, err
			}}
		}})
		dir := append(append([]string(nil), id...), diskEntry(disk))
		ents = append(ents, entry{name: diskEntry(disk), mode: syscall.S_IFDIR, ino: inoOf(dir...), node: func() attrer {
			return newDiskDir(m, p, disk, dir)
		}})
	}
	cfg := append(append([]string(nil), id...), "config")
	ents = append(ents, entry{name: "config", mode: syscall.S_IFDIR, ino: inoOf(cfg...), node: func() attrer {
		return newConfigDir(m, p, cfg)
	}})
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
		vols := map[string]*volume{} // by volume name, made before volumes.txt reads them
		if err == nil {
			for _, v := range gd.Volumes {
				if v.FS != nil {
					key := strings.Join(append(append([]string(nil), id...), v.Name), "\x00")
					vols[v.Name] = &volume{m: m, fs: v.FS, key: key, where: fmt.Sprintf("%s/%s/%s", p.ID(), disk, v.Name)}
				}
			}
		}
		tree := newTree()
		rid := append(append([]string(nil), id...), "volumes.txt")
		tree.add("volumes.txt", entry{mode: syscall.S_IFREG, ino: inoOf(rid...), node: func() attrer {
			return &textFile{m: m, ino: inoOf(rid...), mtime: p.Time, text: func() string {
				return volumesReport(p, disk, gd, err, vols)
			}}
		}})
		if err != nil {
			m.errs.log("open disk", fmt.Errorf("%s: %w", p.DiskRef(disk), err))
			return tree.entries(m, id, p.Time), nil
		}
		for _, v := range gd.Volumes {
			v := v
			if v.Reader != nil {
				img := append(append([]string(nil), id...), v.Name+".img")
				tree.add(v.Name+".img", entry{mode: syscall.S_IFREG, ino: inoOf(img...), node: func() attrer {
					return &readerFile{m: m, ino: inoOf(img...), size: v.Size, mtime: p.Time, open: func(context.Context) (io.ReaderAt, error) {
						return v.Reader, nil
					}}
				}})
			}
			if vol := vols[v.Name]; vol != nil {
				root := v.FS.Root()
				tree.add(v.Name, entry{mode: syscall.S_IFDIR, ino: guestIno(vol.key, root), node: func() attrer {
					return &guestNode{vol: vol, gino: root}
				}})
			}
		}
		return tree.entries(m, id, p.Time), nil
	}
	return d
}

// volumesReport is the text of volumes.txt: what the disk holds and why a
// volume shows no filesystem, so nobody needs the logs to find out.
// vols are the volumes shown, by name, for what their listings lost at
// the mount's edge.
func volumesReport(p *catalog.Manifest, disk string, gd *guestfs.Disk, err error, vols map[string]*volume) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", p.DiskRef(disk))
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
		return b.String()
	}
	fmt.Fprintf(&b, "partition table: %s, %d-byte sectors\n", gd.Table.Scheme, gd.Table.SectorSize)
	for _, w := range gd.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	for _, v := range gd.Volumes {
		fmt.Fprintf(&b, "%s\tsize %d", v.Name, v.Size)
		if v.Offset >= 0 {
			fmt.Fprintf(&b, "\toffset %d", v.Offset)
		}
		if v.Partition != nil {
			fmt.Fprintf(&b, "\ttype %s", v.Partition.Type)
			if v.Partition.TypeName != "" {
				fmt.Fprintf(&b, " (%s)", v.Partition.TypeName)
			}
			if v.Partition.Name != "" {
				fmt.Fprintf(&b, "\tname %q", v.Partition.Name)
			}
		}
		switch {
		case v.FS != nil:
			fmt.Fprintf(&b, "\tfilesystem %s", v.FS.Type())
			if v.Label != "" {
				fmt.Fprintf(&b, " label %q", v.Label)
			}
		case v.Err != nil:
			fmt.Fprintf(&b, "\tno filesystem: %v", v.Err)
		}
		b.WriteString("\n")
		if v.FS != nil {
			for _, note := range damage(v.FS) {
				fmt.Fprintf(&b, "%s\tdamaged, left out: %s\n", v.Name, note)
			}
			if vol := vols[v.Name]; vol != nil {
				for _, note := range vol.edgeNotes() {
					fmt.Fprintf(&b, "%s\tbad name, left out: %s\n", v.Name, note)
				}
			}
		}
	}
	return b.String()
}

// tree nests volume names with slashes ("lvm/vg/lv.img") into directories.
type tree struct {
	files map[string]entry
	dirs  map[string]*tree
}

func newTree() *tree { return &tree{files: map[string]entry{}, dirs: map[string]*tree{}} }

func (t *tree) add(name string, e entry) {
	if i := strings.IndexByte(name, '/'); i >= 0 {
		sub := t.dirs[name[:i]]
		if sub == nil {
			sub = newTree()
			t.dirs[name[:i]] = sub
		}
		sub.add(name[i+1:], e)
		return
	}
	e.name = name
	t.files[name] = e
}

func (t *tree) entries(m *mount, id []string, mtime time.Time) []entry {
	var out []entry
	for _, e := range t.files {
		out = append(out, e)
	}
	for name, sub := range t.dirs {
		if _, taken := t.files[name]; taken {
			continue
		}
		sub, sid := sub, append(append([]string(nil), id...), name)
		out = append(out, entry{name: name, mode: syscall.S_IFDIR, ino: inoOf(sid...), node: func() attrer {
			d := &listDir{m: m, ino: inoOf(sid...), mtime: mtime}
			d.load = func(context.Context) ([]entry, error) { return sub.entries(m, sid, mtime), nil }
			return d
		}})
	}
	return out
}
