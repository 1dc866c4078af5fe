package vhdx

import (
	"encoding/binary"
	"fmt"

	"github.com/vmarchive/vmarchive/ingest/image/internal/vdisk"
)

// Log entry header fields (MS-VHDX 2.3.1.1), little-endian.
const (
	sigLogEntry   = 0x65676f6c // "loge"
	logSector     = 4 << 10
	logEntryGUID  = 32 // offset of the entry's log GUID
	logEntryMinSz = 64
)

func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

// checkLog checks the log's place in the file and refuses an image whose
// log holds a valid entry: metadata it describes may not have reached
// its final place yet (see the package documentation).
func (d *Disk) checkLog() error {
	h := d.hdr
	if h.LogLength == 0 && h.LogGUID.IsZero() {
		return nil
	}
	if h.LogOffset%sectionEnd != 0 || h.LogOffset < sectionEnd || h.LogLength%sectionEnd != 0 ||
		h.LogOffset > uint64(d.src.Size()) || uint64(h.LogLength) > uint64(d.src.Size())-h.LogOffset {
		return vdisk.Corruptf("vhdx %q: log of %d bytes at offset %d, expected a 1 MiB-aligned region inside the %d-byte file", d.name, h.LogLength, h.LogOffset, d.src.Size())
	}
	if h.LogGUID.IsZero() {
		return nil
	}
	log := make([]byte, h.LogLength)
	if err := vdisk.ReadFull(d.src, log, int64(h.LogOffset), fmt.Sprintf("vhdx %q: log", d.name)); err != nil {
		return err
	}
	for pos := 0; pos+logEntryMinSz <= len(log); pos += logSector {
		if seq, ok := validEntry(log, pos, h.LogGUID); ok {
			return vdisk.Unsupportedf("vhdx %q: the log holds entries to replay (log GUID %s, entry with sequence number %d at log offset %d): the image was not closed cleanly. "+
				"vmarchive does not replay logs; replay it on a copy with `qemu-img check -r all COPY.vhdx` (or attach the disk once in Hyper-V) and ingest the copy",
				d.name, h.LogGUID, seq, pos)
		}
	}
	return nil
}

// validEntry reports whether an entry of this log starts at pos of the
// circular log: signature, log GUID, a sane length and its CRC-32C.
func validEntry(log []byte, pos int, guid GUID) (uint64, bool) {
	e := log[pos:]
	if le32(e) != sigLogEntry || GUID(e[logEntryGUID:logEntryGUID+16]) != guid {
		return 0, false
	}
	n := int(le32(e[8:]))
	if n < logSector || n%logSector != 0 || n > len(log) {
		return 0, false
	}
	b := make([]byte, n) // the entry may wrap around the log's end
	copy(b, log[pos:])
	if pos+n > len(log) {
		copy(b[len(log)-pos:], log)
	}
	return binary.LittleEndian.Uint64(b[16:]), crc32c(b) == le32(b[4:])
}
