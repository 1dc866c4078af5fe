package vhd

import (
	"encoding/binary"
	"fmt"
	"path"
	"strings"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
)

// parentNames lists where the parent may be, best first: relative
// locators, then the base names of absolute ones and of the Unicode name
// (a copied chain keeps its files side by side; Windows drive paths mean
// nothing here).
func (d *Disk) parentNames() ([]string, error) {
	var rel, abs []string
	for i, l := range d.hdr.Locators {
		code := string(l.Code[:])
		if l.DataLength == 0 || code == "\x00\x00\x00\x00" {
			continue
		}
		if l.DataLength > maxLocatorLen || l.DataOffset > uint64(d.src.Size()) || uint64(l.DataLength) > uint64(d.src.Size())-l.DataOffset {
			return nil, vdisk.Corruptf("vhd %q: parent locator %d (%q) of %d bytes at offset %d, expected at most %d bytes inside the %d-byte file",
				d.name, i, code, l.DataLength, l.DataOffset, maxLocatorLen, d.src.Size())
		}
		b := make([]byte, l.DataLength)
		if err := vdisk.ReadFull(d.src, b, int64(l.DataOffset), fmt.Sprintf("vhd %q: parent locator %d", d.name, i)); err != nil {
			return nil, err
		}
		switch code {
		case "W2ru":
			rel = append(rel, winPath(decodeUTF16(b, binary.LittleEndian)))
		case "Wi2r":
			rel = append(rel, winPath(strings.TrimRight(string(b), "\x00")))
		case "W2ku":
			abs = append(abs, winPath(decodeUTF16(b, binary.LittleEndian)))
		case "Wi2k":
			abs = append(abs, winPath(strings.TrimRight(string(b), "\x00")))
		case "MacX":
			abs = append(abs, strings.TrimPrefix(strings.TrimRight(string(b), "\x00"), "file://"))
		}
	}
	abs = append(abs, winPath(d.hdr.ParentName))
	names := rel
	for _, a := range abs {
		names = append(names, path.Base(a))
	}
	return dedup(names), nil
}

// winPath turns a Windows path into a slash-separated one.
func winPath(s string) string {
	s = strings.ReplaceAll(s, `\`, "/")
	return strings.TrimPrefix(s, "./")
}

func dedup(names []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		if n != "" && n != "." && n != "/" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// openParent opens the parent and checks that it is the disk the child
// was made from.
func (d *Disk) openParent(open ParentOpener) error {
	names, err := d.parentNames()
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return vdisk.Corruptf("vhd %q: differencing disk names no parent (no locator and no parent name)", d.name)
	}
	if open == nil {
		return vdisk.Unsupportedf("vhd %q: differencing disk with parent %q but no way to open it here", d.name, names[0])
	}
	p, used, err := open(names, "vhd")
	if err != nil {
		return fmt.Errorf("vhd %q: parent: %w", d.name, err)
	}
	pd, ok := p.(*Disk)
	if !ok {
		p.Close()
		return vdisk.Corruptf("vhd %q: parent %q is %s, not a VHD", d.name, used, p.Format())
	}
	if pd.UniqueID() != d.hdr.ParentUniqueID {
		p.Close()
		return vdisk.Corruptf("vhd %q: parent %q has unique id %x, the differencing disk was made from %x (the parent changed or is another disk)",
			d.name, used, pd.UniqueID(), d.hdr.ParentUniqueID)
	}
	d.parent, d.parentName = p, used
	return nil
}
