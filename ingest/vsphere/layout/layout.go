// Package layout maps a VMDK descriptor onto the bytes of a virtual disk:
// which flat file, at which offset, backs each range. It has no vSphere
// dependencies, so it is cheap to fuzz.
package layout

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/vmarchive/vmarchive/ingest/image"
	"github.com/vmarchive/vmarchive/ingest/image/vmdk"
)

// ErrRefused marks a disk this package does not read (see the package
// comment for what is covered); test with errors.Is.
var ErrRefused = errors.New("disk cannot be read by vSphere ingest")

// Segment is one piece of the virtual disk: bytes [Off, Off+Len) come from
// File at FileOff, or are zeros when File is empty.
type Segment struct {
	Off, Len int64
	File     string // datastore path of the flat file; "" = zeros
	FileOff  int64
}

// Layout maps a parsed descriptor at datastore path descPath onto a disk
// of capacity bytes. Extents are laid end to end; a descriptor shorter than
// the capacity reads as zeros after its last extent, a longer one is cut.
func Layout(descPath string, d *vmdk.Descriptor, capacity int64) ([]Segment, error) {
	// Whether the disk has a parent is the vSphere API's answer (the
	// backing's Parent, checked by the caller); parentCID alone is not
	// trusted: govmomi writes 00000000 for a base disk.
	if d.NamesParent() {
		return nil, fmt.Errorf("descriptor %q has a parent (createType %q, parentCID %08x, parent %q): a snapshot delta: %w", descPath, d.CreateType, d.ParentCID, d.ParentFileNameHint, ErrRefused)
	}
	var segs []Segment
	off := int64(0)
	for i, e := range d.Extents {
		if off >= capacity {
			break
		}
		if e.Sectors <= 0 { // the parser bounds the upper end
			return nil, fmt.Errorf("descriptor %q extent %d: %d sectors: %w", descPath, i, e.Sectors, image.ErrCorrupt)
		}
		n := min(e.Sectors*vmdk.SectorSize, capacity-off)
		s := Segment{Off: off, Len: n}
		switch e.Type {
		case "FLAT", "VMFS":
			if e.File == "" {
				return nil, fmt.Errorf("descriptor %q extent %d: %s extent without a file: %w", descPath, i, e.Type, image.ErrCorrupt)
			}
			if e.Offset < 0 || e.Offset > 1<<50 {
				return nil, fmt.Errorf("descriptor %q extent %d: offset %d sectors: %w", descPath, i, e.Offset, image.ErrCorrupt)
			}
			s.File, s.FileOff = sibling(descPath, e.File), e.Offset*vmdk.SectorSize
		case "ZERO":
		case "SPARSE", "VMFSSPARSE", "SESPARSE", "VSANSPARSE":
			return nil, fmt.Errorf("descriptor %q extent %d is %s: only flat extents are read: %w", descPath, i, e.Type, ErrRefused)
		case "VMFSRDM", "VMFSRAW":
			return nil, fmt.Errorf("descriptor %q extent %d is %s, a raw device mapping: %w", descPath, i, e.Type, ErrRefused)
		default:
			return nil, fmt.Errorf("descriptor %q extent %d: type %q: %w", descPath, i, e.Type, ErrRefused)
		}
		if e.Access == "NOACCESS" {
			return nil, fmt.Errorf("descriptor %q extent %d is NOACCESS: %w", descPath, i, ErrRefused)
		}
		segs = append(segs, s)
		off += n
	}
	if off < capacity {
		segs = append(segs, Segment{Off: off, Len: capacity - off})
	}
	return segs, nil
}

// DataExtents are the parts of the disk backed by files, merged.
func DataExtents(segs []Segment) []image.Extent {
	var out []image.Extent
	for _, s := range segs {
		if s.File == "" || s.Len == 0 {
			continue
		}
		if k := len(out) - 1; k >= 0 && out[k].Off+out[k].Len == s.Off {
			out[k].Len += s.Len
			continue
		}
		out = append(out, image.Extent{Off: s.Off, Len: s.Len})
	}
	return out
}

// sibling resolves a file name from a descriptor against the descriptor's
// directory on the same datastore.
func sibling(descriptor, name string) string {
	if strings.HasPrefix(name, "/") {
		return strings.TrimPrefix(name, "/")
	}
	return path.Join(path.Dir(descriptor), name)
}
