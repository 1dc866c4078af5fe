package ntfs

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"sort"
	"sync"
)

// inode is a parsed base MFT record with the attributes of its extension
// records merged in.
type inode struct {
	Num   uint64
	Hdr   recordHeader
	Attrs []*attribute

	i30Once sync.Once // opens i30 on first use: a directory's $BITMAP may be non-resident
	i30     *index
	i30Err  error
}

// Limits on what one inode may pull in, independent of on-disk counts.
const (
	maxAttrListSize   = 1 << 20 // $ATTRIBUTE_LIST values are at most 256 KiB on Windows
	maxExtensionRecs  = 1 << 14
	firstUserRecord   = 16
	recordRoot        = 5
	recordMFT         = 0
	recordVolume      = 3
	recordUpCase      = 10
	recordSecure      = 9
	recordExtend      = 11
	maxResidentRecord = 64 << 10
)

// find returns the first attribute of the given type and name.
func (n *inode) find(typ uint32, name string) *attribute {
	for _, a := range n.Attrs {
		if a.Type == typ && a.Name == name {
			return a
		}
	}
	return nil
}

// readRecord reads MFT record num and applies its fixups.
func (fs *FS) readRecord(num uint64) ([]byte, error) {
	off := int64(num) * fs.recordSize
	if num >= uint64(fs.mftRecords) {
		return nil, fmt.Errorf("MFT record %d: beyond the %d records of $MFT: %w", num, fs.mftRecords, iofs.ErrNotExist)
	}
	b := make([]byte, fs.recordSize)
	if _, err := fs.mft.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("read MFT record %d: %w", num, err)
	}
	if err := applyFixups(b, "FILE"); err != nil {
		return nil, fmt.Errorf("MFT record %d: %w", num, err)
	}
	return b, nil
}

// loadRecord reads and decodes one record, checking its number.
func (fs *FS) loadRecord(num uint64) (recordHeader, []*attribute, error) {
	b, err := fs.readRecord(num)
	if err != nil {
		return recordHeader{}, nil, err
	}
	return decodeRecord(b, num)
}

// decodeRecord decodes a fixed-up FILE record expected to be number num.
func decodeRecord(b []byte, num uint64) (recordHeader, []*attribute, error) {
	h, err := decodeRecordHeader(b)
	if err != nil {
		return h, nil, fmt.Errorf("MFT record %d: %w", num, err)
	}
	if h.HasNumber && uint64(h.Number) != num&0xffffffff {
		return h, nil, fmt.Errorf("MFT record %d: %w", num, corruptf("record says it is number %d", h.Number))
	}
	attrs, err := decodeAttributes(b, h)
	if err != nil {
		return h, nil, fmt.Errorf("MFT record %d: %w", num, err)
	}
	return h, attrs, nil
}

// inode returns the parsed inode num, from the cache when possible.
func (fs *FS) inode(num uint64) (*inode, error) {
	if n, ok := fs.inodes.get(num); ok {
		return n, nil
	}
	n, err := fs.loadInode(num)
	if err != nil {
		return nil, err
	}
	fs.inodes.add(num, n)
	return n, nil
}

// loadInode reads base record num and its extension records.
func (fs *FS) loadInode(num uint64) (*inode, error) {
	h, attrs, err := fs.loadRecord(num)
	if err != nil {
		return nil, err
	}
	if h.Flags&recInUse == 0 {
		return nil, fmt.Errorf("MFT record %d is not in use: %w", num, iofs.ErrNotExist)
	}
	return fs.buildInode(num, h, attrs)
}

// buildInode makes the inode of base record num from its decoded header
// and attributes, pulling in its extension records.
func (fs *FS) buildInode(num uint64, h recordHeader, attrs []*attribute) (*inode, error) {
	if h.BaseRef != 0 {
		base, _ := mref(h.BaseRef)
		return nil, fmt.Errorf("MFT record %d is an extension of record %d: %w", num, base, iofs.ErrNotExist)
	}
	n := &inode{Num: num, Hdr: h}
	var err error
	attrs, err = fs.expandAttrList(num, attrs, fs.loadRecord)
	if err != nil {
		return nil, err
	}
	if n.Attrs, err = mergePieces(attrs); err != nil {
		return nil, fmt.Errorf("MFT record %d: %w", num, err)
	}
	return n, nil
}

// expandAttrList adds the attributes of the extension records named by an
// $ATTRIBUTE_LIST among attrs. load reads one record.
func (fs *FS) expandAttrList(num uint64, attrs []*attribute, load func(uint64) (recordHeader, []*attribute, error)) ([]*attribute, error) {
	var al *attribute
	for _, a := range attrs {
		if a.Type == atAttributeList {
			al = a
			break
		}
	}
	if al == nil {
		return attrs, nil
	}
	val, err := fs.attrValue(al, fmt.Sprintf("MFT record %d $ATTRIBUTE_LIST", num), maxAttrListSize)
	if err != nil {
		return nil, err
	}
	entries, err := decodeAttrList(val)
	if err != nil {
		return nil, fmt.Errorf("MFT record %d $ATTRIBUTE_LIST: %w", num, err)
	}
	seen := map[uint64]bool{num: true}
	for _, e := range entries {
		rec, _ := mref(e.Ref)
		if seen[rec] {
			continue
		}
		if len(seen) > maxExtensionRecs {
			return nil, fmt.Errorf("MFT record %d: %w", num, corruptf("more than %d extension records", maxExtensionRecs))
		}
		seen[rec] = true
		eh, ea, err := load(rec)
		if err != nil {
			return nil, fmt.Errorf("MFT record %d extension: %w", num, err)
		}
		if base, _ := mref(eh.BaseRef); base != num || eh.Flags&recInUse == 0 {
			return nil, fmt.Errorf("MFT record %d: %w", num, corruptf("extension record %d has base %d (in use %v)", rec, base, eh.Flags&recInUse != 0))
		}
		attrs = append(attrs, ea...)
	}
	return attrs, nil
}

// attrValue reads the whole value of a (possibly non-resident) attribute.
func (fs *FS) attrValue(a *attribute, what string, max int64) ([]byte, error) {
	if a.Resident {
		return a.Value, nil
	}
	if a.LowVCN != 0 {
		return nil, corruptf("%s: first piece starts at VCN %d", what, a.LowVCN)
	}
	return newStream(fs, a, what).readAll(max)
}

// mergePieces joins the pieces of non-resident attributes split across
// records into one attribute each, in VCN order.
func mergePieces(attrs []*attribute) ([]*attribute, error) {
	type key struct {
		typ  uint32
		name string
	}
	groups := map[key][]*attribute{}
	var out []*attribute
	for _, a := range attrs {
		if a.Resident {
			out = append(out, a)
			continue
		}
		k := key{a.Type, a.Name}
		if groups[k] == nil {
			out = append(out, nil) // placeholder keeps first-seen order
		}
		groups[k] = append(groups[k], a)
	}
	// Fill placeholders in first-seen order.
	var order []key
	seen := map[key]bool{}
	for _, a := range attrs {
		k := key{a.Type, a.Name}
		if !a.Resident && !seen[k] {
			seen[k] = true
			order = append(order, k)
		}
	}
	j := 0
	for i := range out {
		if out[i] != nil {
			continue
		}
		m, err := mergeGroup(groups[order[j]])
		if err != nil {
			return nil, err
		}
		out[i] = m
		j++
	}
	return out, nil
}

func mergeGroup(pieces []*attribute) (*attribute, error) {
	sort.Slice(pieces, func(i, j int) bool { return pieces[i].LowVCN < pieces[j].LowVCN })
	first := pieces[0]
	if first.LowVCN != 0 {
		return nil, corruptf("attribute type 0x%x %q: first piece starts at VCN %d", first.Type, first.Name, first.LowVCN)
	}
	if len(pieces) == 1 {
		return first, nil
	}
	m := *first
	m.Runs = nil
	next := int64(0)
	for _, p := range pieces {
		if p.LowVCN != next {
			return nil, corruptf("attribute type 0x%x %q: piece at VCN %d, expected %d", first.Type, first.Name, p.LowVCN, next)
		}
		m.Runs = append(m.Runs, p.Runs...)
		next = p.HighVCN + 1
	}
	m.HighVCN = next - 1
	return &m, nil
}

// errNotDir and friends keep messages uniform.
var errNotDir = errors.New("not a directory")
