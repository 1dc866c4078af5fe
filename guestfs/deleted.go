package guestfs

import (
	"time"

	"github.com/vmarchive/vmarchive/ext4"
	"github.com/vmarchive/vmarchive/ntfs"
)

// DeletedState says what is left of a deleted file's content.
type DeletedState uint8

// The deleted states.
const (
	// Recoverable: the file's data is still where it was and nothing
	// has claimed it since the delete; OpenDeleted reads it.
	Recoverable DeletedState = iota + 1
	// Reused: some of its data is allocated to something else now; its
	// old content is not shown.
	Reused
	// NoData: the delete cleared the map of its data; only metadata is left.
	NoData
	// Damaged: the map of its data cannot be read.
	Damaged
)

func (s DeletedState) String() string {
	switch s {
	case Recoverable:
		return "recoverable"
	case Reused:
		return "reused"
	case NoData:
		return "no-data"
	case Damaged:
		return "damaged"
	}
	return "unknown"
}

// Deleted is a file whose inode (MFT record) is free but still describes
// it: what The Sleuth Kit's `fls -d` lists and `icat` reads.
type Deleted struct {
	Attr Attr
	// Name is the file's last name when the filesystem still knows it
	// (NTFS keeps it in the record); "" when not.
	Name  string
	Dtime time.Time // when it was deleted, if recorded (ext4 i_dtime)
	State DeletedState
	Note  string // why it is not recoverable
}

// Undeleter is implemented by filesystems that can list and read deleted
// files. The adapters return an error wrapping errors.ErrUnsupported when
// the filesystem cannot.
type Undeleter interface {
	// Deleted lists the deleted regular files, in inode order.
	Deleted() ([]Deleted, error)
	// OpenDeleted reads deleted file ino; it fails unless the file is
	// Recoverable.
	OpenDeleted(ino uint64) (File, error)
}

// ext4Deleted converts ext4's deleted inodes.
func ext4Deleted(fs *ext4.FS, attr func(ext4.Attr) Attr) ([]Deleted, error) {
	ds, err := fs.DeletedInodes()
	out := make([]Deleted, len(ds))
	for i, d := range ds {
		out[i] = Deleted{Attr: attr(d.Attr), Dtime: d.Dtime, State: ext4States[d.State], Note: d.Note}
	}
	return out, err
}

// ntfsDeleted converts ntfs's deleted records.
func ntfsDeleted(fs *ntfs.FS, attr func(ntfs.Attr) Attr) ([]Deleted, error) {
	ds, err := fs.DeletedRecords()
	out := make([]Deleted, len(ds))
	for i, d := range ds {
		out[i] = Deleted{Attr: attr(d.Attr), Name: d.Name, State: ntfsStates[d.State], Note: d.Note}
	}
	return out, err
}

var ntfsStates = map[ntfs.DeletedState]DeletedState{
	ntfs.Recoverable: Recoverable, ntfs.Reused: Reused, ntfs.NoData: NoData, ntfs.Damaged: Damaged,
}

var ext4States = map[ext4.DeletedState]DeletedState{
	ext4.Recoverable: Recoverable, ext4.Reused: Reused, ext4.NoData: NoData, ext4.Damaged: Damaged,
}

// fileOrNil keeps a nil *F from becoming a non-nil File.
func fileOrNil[F File](f F, err error) (File, error) {
	if err != nil {
		return nil, err
	}
	return f, nil
}
