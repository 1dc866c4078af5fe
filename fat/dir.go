package fat

// dirent is one live name of a directory, decoded from its 8.3 entry and
// the long-name entries before it.
type dirent struct {
	name  string // long name, or the 8.3 name as Linux vfat shows it
	short string // 8.3 name without case flags, also accepted by Lookup
	slot  int    // index of the 8.3 entry among the directory's 32-byte slots
	ino   uint64 // volume offset of the 8.3 entry / 32, set by loadDir
	e     shortEntry
}

// maxDirSlots caps a directory at 65536 entries (2 MiB), Linux's
// FAT_MAX_DIR_ENTRIES.
const maxDirSlots = 65536

// lfnState assembles one long name from LFN entries that precede an 8.3
// entry in descending sequence order.
type lfnState struct {
	units    [lfnMaxSeq * lfnPerSlot]uint16
	total    int   // sequence number of the first (last-part) entry; 0 = none in progress
	next     int   // sequence number expected next; 0 = complete
	checksum uint8 // checksum all parts must carry
}

// add feeds one LFN entry. Out-of-order parts drop the name in progress,
// as Linux's fat_parse_long does; a new last-part entry starts a new one.
func (s *lfnState) add(l longEntry) {
	seq := int(l.Ord &^ lfnLast)
	switch {
	case l.Ord&lfnLast != 0:
		if seq == 0 || seq > lfnMaxSeq {
			s.total = 0
			return
		}
		s.total, s.next, s.checksum = seq, seq, l.Checksum
	case s.total == 0 || seq != s.next || l.Checksum != s.checksum:
		s.total = 0
		return
	}
	copy(s.units[(seq-1)*lfnPerSlot:], l.Chars[:])
	s.next--
}

// take returns the assembled name if it is complete and belongs to e.
func (s *lfnState) take(e *shortEntry) (string, bool) {
	defer func() { s.total = 0 }()
	if s.total == 0 || s.next != 0 || s.checksum != e.checksum() {
		return "", false
	}
	return decodeLongName(s.units[:s.total*lfnPerSlot])
}

// parseDir decodes the raw bytes of a directory (a whole number of 32-byte
// slots) into its live names, without "." and "..". Deleted entries,
// orphaned LFN entries and the volume label are skipped; the first entry
// starting with 0x00 ends the directory. label is the volume label entry's
// raw name, if there is one.
func parseDir(p []byte) (ents []dirent, label []byte) {
	var lfn lfnState
	n := min(len(p)/dirEntrySize, maxDirSlots)
	for i := 0; i < n; i++ {
		raw := p[i*dirEntrySize : (i+1)*dirEntrySize]
		switch {
		case raw[0] == entryEnd:
			return ents, label
		case raw[0] == entryDeleted:
			lfn.total = 0
			continue
		case raw[11]&attrLongMask == attrLongName:
			lfn.add(parseLongEntry(raw))
			continue
		}
		e := parseShortEntry(raw)
		if e.Attr&attrVolumeID != 0 {
			if label == nil {
				label = append([]byte(nil), e.Name[:]...)
			}
			lfn.total = 0
			continue
		}
		long, ok := lfn.take(&e)
		if e.isDot() {
			continue
		}
		d := dirent{short: rawShortName(&e), slot: i, e: e}
		if ok {
			d.name = long
		} else {
			d.name = shortName(&e)
		}
		if d.name == "" || d.name == "." || d.name == ".." {
			continue
		}
		ents = append(ents, d)
	}
	return ents, label
}
