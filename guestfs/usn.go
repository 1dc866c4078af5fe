package guestfs

import (
	"time"

	"github.com/vmarchive/vmarchive/ntfs"
)

// USNRecord is one entry of an NTFS change journal ($UsnJrnl:$J).
type USNRecord struct {
	USN            int64
	Time           time.Time
	Ino            uint64 // MFT record number of the file
	Seq            uint16 // its sequence number
	ParentIno      uint64
	ParentSeq      uint16
	Reason         string // USN_REASON_* names joined with "|"
	FileAttributes uint32
	Name           string
}

// USNJournaler is implemented by filesystems with a change journal. The
// adapters return an error wrapping errors.ErrUnsupported when the
// filesystem has none by design, and io/fs.ErrNotExist when this volume
// has none.
type USNJournaler interface {
	// USNJournal calls fn with each record in journal order.
	USNJournal(fn func(USNRecord) error) error
}

func ntfsUSN(fs *ntfs.FS, fn func(USNRecord) error) error {
	return fs.USNJournal(func(r ntfs.USNRecord) error {
		return fn(USNRecord{r.USN, r.Time, r.Ino, r.Seq, r.ParentIno, r.ParentSeq,
			ntfs.USNReasonString(r.Reason), r.FileAttributes, r.Name})
	})
}
