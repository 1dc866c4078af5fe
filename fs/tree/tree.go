// Package tree is the FUSE-free part of the mounted tree (design.md, "The
// mounted tree"): what a point and a disk directory hold, volumes.txt, the
// names a guest listing may show. The FUSE mount (package fs) and the web
// views (package web) both build their trees from it, so the two show the
// same names for the same things.
package tree

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
)

// Archive is what the tree reads; *catalog.Repo implements it.
type Archive interface {
	VMs() ([]string, error)
	PointTimes(vm string) ([]time.Time, error)
	Point(vm, name string) (*catalog.Manifest, error)
	OpenDisk(ctx context.Context, p *catalog.Manifest, disk string) (*catalog.DiskReader, error)
	ReadBlob(ctx context.Context, id catalog.ChunkID, maxSize int) ([]byte, error)
}

var _ Archive = (*catalog.Repo)(nil)

// Kind says what an Item is.
type Kind uint8

// The kinds of items in a point or a disk directory.
const (
	DiskImage   Kind = iota + 1 // <disk>.img: the whole disk
	DiskDir                     // <disk>/: its volumes
	ConfigDir                   // config/: the captured VM configuration
	VolumesText                 // volumes.txt
	VolumeImage                 // p<N>.img, fs.img, lvm/<vg>/<lv>.img
	VolumeFS                    // p<N>/, fs/, lvm/<vg>/<lv>/: a guest filesystem
)

// Item is one name in a point's directory or a disk's directory. Names of
// volumes may hold slashes (lvm/<vg>/<lv>): Nest makes directories of them.
type Item struct {
	Name   string
	Kind   Kind
	Disk   string          // DiskImage, DiskDir: the disk's name in the manifest
	Size   int64           // DiskImage, VolumeImage
	Volume *guestfs.Volume // VolumeImage, VolumeFS
}

// Dir reports whether the item is a directory.
func (it Item) Dir() bool {
	return it.Kind == DiskDir || it.Kind == ConfigDir || it.Kind == VolumeFS
}

// PointItems are the disks (as .img and directory) and config/ of p.
func PointItems(p *catalog.Manifest) []Item {
	var out []Item
	for _, d := range p.Disks {
		name := catalog.MountDiskName(d.Name)
		out = append(out,
			Item{Name: name + ".img", Kind: DiskImage, Disk: d.Name, Size: d.Size},
			Item{Name: name, Kind: DiskDir, Disk: d.Name})
	}
	return append(out, Item{Name: "config", Kind: ConfigDir})
}

// DiskItems are what a disk's directory shows: volumes.txt, each volume's
// raw image, and the filesystem of each volume that has one. gd is nil
// when the disk could not be opened: then only volumes.txt.
func DiskItems(gd *guestfs.Disk) []Item {
	out := []Item{{Name: "volumes.txt", Kind: VolumesText}}
	if gd == nil {
		return out
	}
	for _, v := range gd.Volumes {
		if v.Reader != nil {
			out = append(out, Item{Name: v.Name + ".img", Kind: VolumeImage, Size: v.Size, Volume: v})
		}
		if v.FS != nil {
			out = append(out, Item{Name: v.Name, Kind: VolumeFS, Volume: v})
		}
	}
	return out
}

// Damage lists what a volume's reader skipped as damaged so far.
func Damage(fs guestfs.FS) []string {
	if d, ok := fs.(guestfs.Damager); ok {
		return d.Damage()
	}
	return nil
}

// VolumesReport is the text of volumes.txt: what the disk holds and why a
// volume shows no filesystem, so nobody needs the logs to find out. err
// is why the disk could not be opened (gd nil); edge, if set, lists what
// a volume's listings lost at the viewer's edge (CleanEntries).
func VolumesReport(p *catalog.Manifest, disk string, gd *guestfs.Disk, err error, edge func(volume string) []string) string {
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
		volumeLine(&b, v)
		if v.FS == nil {
			continue
		}
		for _, note := range Damage(v.FS) {
			fmt.Fprintf(&b, "%s\tdamaged, left out: %s\n", v.Name, note)
		}
		if edge != nil {
			for _, note := range edge(v.Name) {
				fmt.Fprintf(&b, "%s\tbad name, left out: %s\n", v.Name, note)
			}
		}
	}
	return b.String()
}

func volumeLine(b *strings.Builder, v *guestfs.Volume) {
	fmt.Fprintf(b, "%s\tsize %d", v.Name, v.Size)
	if v.Offset >= 0 {
		fmt.Fprintf(b, "\toffset %d", v.Offset)
	}
	if v.Partition != nil {
		fmt.Fprintf(b, "\ttype %s", v.Partition.Type)
		if v.Partition.TypeName != "" {
			fmt.Fprintf(b, " (%s)", v.Partition.TypeName)
		}
		if v.Partition.Name != "" {
			fmt.Fprintf(b, "\tname %q", v.Partition.Name)
		}
	}
	switch {
	case v.FS != nil:
		fmt.Fprintf(b, "\tfilesystem %s", v.FS.Type())
		if v.Label != "" {
			fmt.Fprintf(b, " label %q", v.Label)
		}
	case v.Err != nil:
		fmt.Fprintf(b, "\tno filesystem: %v", v.Err)
	}
	b.WriteString("\n")
}
