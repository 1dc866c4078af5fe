package vhdx

import (
	"fmt"
	"path"
	"strings"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
)

// parentNames lists where the parent may be, best first: the relative
// path, then the base names of the absolute and volume paths (a copied
// chain keeps its files side by side).
func (d *Disk) parentNames() []string {
	e := d.locator.Entries
	var names []string
	if r := winPath(e["relative_path"]); r != "" {
		names = append(names, r)
	}
	for _, k := range []string{"absolute_win32_path", "volume_path"} {
		if a := winPath(e[k]); a != "" {
			names = append(names, path.Base(a))
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		if n != "." && n != "/" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// winPath turns a Windows path into a slash-separated one.
func winPath(s string) string {
	s = strings.ReplaceAll(s, `\`, "/")
	return strings.TrimPrefix(s, "./")
}

// parseLinkage parses a GUID written as "{xxxxxxxx-xxxx-...}".
func parseLinkage(s string) (GUID, bool) {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	if len(s) != 36 {
		return GUID{}, false
	}
	var g GUID
	ok := true
	func() {
		defer func() { ok = recover() == nil }()
		g = mustGUID(s)
	}()
	return g, ok
}

// openParent opens the parent and checks that its data is what the
// child was made from (parent_linkage, or parent_linkage2 after a parent
// was merged).
func (d *Disk) openParent(open ParentOpener) error {
	e := d.locator.Entries
	link, ok := parseLinkage(e["parent_linkage"])
	if !ok {
		return vdisk.Corruptf("vhdx %q: parent locator has parent_linkage %q, expected a GUID in braces", d.name, e["parent_linkage"])
	}
	names := d.parentNames()
	if len(names) == 0 {
		return vdisk.Corruptf("vhdx %q: parent locator names no path (relative_path, absolute_win32_path, volume_path)", d.name)
	}
	if open == nil {
		return vdisk.Unsupportedf("vhdx %q: differencing disk with parent %q but no way to open it here", d.name, names[0])
	}
	p, used, err := open(names, "vhdx")
	if err != nil {
		return fmt.Errorf("vhdx %q: parent: %w", d.name, err)
	}
	pd, ok := p.(*Disk)
	if !ok {
		p.Close()
		return vdisk.Corruptf("vhdx %q: parent %q is %s, not a VHDX", d.name, used, p.Format())
	}
	link2, has2 := parseLinkage(e["parent_linkage2"])
	if got := pd.DataWriteGUID(); got != link && !(has2 && got == link2) {
		p.Close()
		return vdisk.Corruptf("vhdx %q: parent %q has data write GUID %s, the differencing disk was made from %s (the parent changed or is another disk)",
			d.name, used, got, link)
	}
	if pd.LogicalSectorSize() != d.sector {
		p.Close()
		return vdisk.Corruptf("vhdx %q: parent %q has %d-byte logical sectors, the differencing disk %d", d.name, used, pd.LogicalSectorSize(), d.sector)
	}
	d.parent, d.parentName = p, used
	return nil
}
