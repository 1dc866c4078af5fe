package vmdk

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
)

// NoParent is the parentCID of a disk without a parent.
const NoParent = 0xffffffff

// Limits on descriptors, far above anything VMware writes.
const (
	MaxDescriptorSize = 1 << 20 // bytes
	maxExtents        = 1 << 16
	maxSectors        = vdisk.MaxSize / SectorSize
)

// SectorSize is the unit of every VMDK size and offset.
const SectorSize = 512

// Descriptor is a parsed VMDK text descriptor.
type Descriptor struct {
	Version            int
	CID, ParentCID     uint32
	CreateType         string // e.g. "monolithicSparse", "vmfs"
	ParentFileNameHint string
	Encoding           string
	Extents            []ExtentDesc
	DDB                map[string]string // "ddb.adapterType" -> "ide"
}

// HasParent reports whether the disk is a delta of another disk: it names
// a parent file, its createType is a snapshot delta's, or its parentCID is
// set. ESXi and qemu write ffffffff for "no parent", govmomi 00000000, so
// neither counts.
func (d *Descriptor) HasParent() bool {
	return d.NamesParent() || d.ParentCID != NoParent && d.ParentCID != 0
}

// NamesParent reports whether the descriptor itself says it is a delta:
// a parentFileNameHint or a delta createType. Unlike HasParent it ignores
// parentCID, for callers that know from elsewhere (the vSphere API's
// backing Parent) whether the disk has a parent.
func (d *Descriptor) NamesParent() bool {
	switch strings.ToLower(d.CreateType) {
	case "vmfssparse", "sesparse", "vsansparse":
		return true
	}
	return d.ParentFileNameHint != ""
}

// Size is the sum of the extent sizes in bytes.
func (d *Descriptor) Size() int64 {
	var s int64
	for _, e := range d.Extents {
		s += e.Sectors * SectorSize
	}
	return s
}

// ExtentDesc is one extent line: ACCESS SECTORS TYPE ["FILE" [OFFSET]].
type ExtentDesc struct {
	Access  string // "RW", "RDONLY" or "NOACCESS"
	Sectors int64  // extent size in 512-byte sectors
	Type    string // "FLAT", "SPARSE", "ZERO", "VMFS", "VMFSSPARSE", "VMFSRDM", "VMFSRAW", "SESPARSE", ...
	File    string // file name as written, relative to the descriptor's directory
	Offset  int64  // start of the extent inside File, in sectors (FLAT, VMFS)
}

var accessModes = map[string]bool{"RW": true, "RDONLY": true, "NOACCESS": true}

var extentTypes = map[string]bool{
	"FLAT": true, "SPARSE": true, "ZERO": true, "VMFS": true, "VMFSSPARSE": true,
	"VMFSRDM": true, "VMFSRAW": true, "SESPARSE": true, "VSANSPARSE": true,
}

// IsDescriptor reports whether b (the start of a file) looks like a VMDK
// text descriptor. Like qemu's probe it skips comments and blank lines
// (CRLF too) and then wants descriptor text; it accepts a descriptor by any
// of its keys (the "# Disk DescriptorFile" line, createType=, version=
// first, an extent line), not only by its first line, so tools that add a
// comment or reorder the header are still recognised.
func IsDescriptor(b []byte) bool {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	first := true
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			continue
		case line[0] == '#':
			if strings.EqualFold(strings.Join(strings.Fields(line[1:]), " "), "Disk DescriptorFile") {
				return true
			}
			continue
		case isExtentLine(line):
			return true
		}
		key, _, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || !isKey(key) {
			return false // binary data or prose: not a descriptor
		}
		if key == "createType" || first && key == "version" {
			return true
		}
		first = false
	}
	return false
}

// isKey reports whether s can be a descriptor key (letters, digits, '.', '_').
func isKey(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}

// isExtentLine reports whether line starts like an extent line:
// ACCESS SECTORS TYPE.
func isExtentLine(line string) bool {
	f := strings.Fields(line)
	if len(f) < 3 || !accessModes[f[0]] || !extentTypes[f[2]] {
		return false
	}
	_, err := strconv.ParseUint(f[1], 10, 64)
	return err == nil
}

// ParseDescriptor parses descriptor text. Text after a NUL byte (the
// padding of an embedded descriptor) is ignored.
func ParseDescriptor(text []byte) (*Descriptor, error) {
	if len(text) > MaxDescriptorSize {
		return nil, vdisk.Corruptf("vmdk descriptor: %d bytes, expected at most %d", len(text), MaxDescriptorSize)
	}
	if i := bytes.IndexByte(text, 0); i >= 0 {
		text = text[:i]
	}
	d := &Descriptor{ParentCID: NoParent, DDB: map[string]string{}}
	seen := map[string]bool{}
	for n, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if n == 0 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if line == "" || line[0] == '#' {
			continue
		}
		if err := d.parseLine(line, seen); err != nil {
			return nil, fmt.Errorf("%w: vmdk descriptor line %d: %w", vdisk.ErrCorrupt, n+1, err)
		}
	}
	if d.CreateType == "" {
		return nil, vdisk.Corruptf("vmdk descriptor: no createType")
	}
	return d, nil
}

func (d *Descriptor) parseLine(line string, seen map[string]bool) error {
	word := line
	if i := strings.IndexAny(line, " \t"); i >= 0 {
		word = line[:i]
	}
	if accessModes[word] {
		if len(d.Extents) >= maxExtents {
			return fmt.Errorf("more than %d extents", maxExtents)
		}
		e, err := parseExtentLine(line)
		if err != nil {
			return err
		}
		d.Extents = append(d.Extents, e)
		return nil
	}
	key, val, ok := strings.Cut(line, "=")
	if !ok {
		return fmt.Errorf("%.40q is neither key=value nor an extent", line)
	}
	key = strings.TrimSpace(key)
	val = unquote(strings.TrimSpace(val))
	if strings.HasPrefix(key, "ddb.") {
		d.DDB[key] = val
		return nil
	}
	if seen[key] {
		return fmt.Errorf("%.40q given twice", key)
	}
	seen[key] = true
	return d.setKey(key, val)
}

func (d *Descriptor) setKey(key, val string) error {
	var err error
	switch key {
	case "version":
		d.Version, err = strconv.Atoi(val)
	case "CID":
		d.CID, err = parseCID(val)
	case "parentCID":
		d.ParentCID, err = parseCID(val)
	case "createType":
		d.CreateType = val
	case "parentFileNameHint":
		d.ParentFileNameHint = val
	case "encoding":
		d.Encoding = val
	}
	if err != nil {
		return fmt.Errorf("%s=%.40q: %w", key, val, err)
	}
	return nil
}

func parseCID(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 16, 32)
	return uint32(v), err
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// parseExtentLine parses `RW 2048 FLAT "name with spaces.vmdk" 0`.
func parseExtentLine(line string) (ExtentDesc, error) {
	var e ExtentDesc
	fields, err := splitQuoted(line)
	if err != nil {
		return e, err
	}
	if len(fields) < 3 || len(fields) > 5 {
		return e, fmt.Errorf("extent %.60q: expected ACCESS SECTORS TYPE [\"FILE\" [OFFSET]]", line)
	}
	e.Access, e.Type = fields[0], fields[2]
	if !extentTypes[e.Type] {
		return e, fmt.Errorf("extent %.60q: unknown type %.20q", line, e.Type)
	}
	if e.Sectors, err = parseSectors(fields[1]); err != nil {
		return e, fmt.Errorf("extent size %.20q: %w", fields[1], err)
	}
	if len(fields) >= 4 {
		e.File = fields[3]
	}
	if len(fields) == 5 {
		if e.Offset, err = parseSectors(fields[4]); err != nil {
			return e, fmt.Errorf("extent offset %.20q: %w", fields[4], err)
		}
	}
	if e.Type != "ZERO" && e.File == "" {
		return e, fmt.Errorf("extent %.60q: %s extent without a file name", line, e.Type)
	}
	return e, nil
}

func parseSectors(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if v < 0 || v > maxSectors {
		return 0, fmt.Errorf("%d sectors out of range [0, %d]", v, int64(maxSectors))
	}
	return v, nil
}

// splitQuoted splits on blanks; a double-quoted field may hold blanks.
func splitQuoted(s string) ([]string, error) {
	var out []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return out, nil
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unterminated quote in %.60q", s)
			}
			out = append(out, s[1:1+end])
			s = s[2+end:]
			continue
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			end = len(s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
}
