package ntfs

import (
	"errors"
	"fmt"
	"io"
)

// DeletedState says what is left of a deleted file's data.
type DeletedState uint8

const (
	// Recoverable: the data is resident in the record, or every cluster
	// of its runs is free in $Bitmap.
	Recoverable DeletedState = iota + 1
	// Reused: some cluster of its runs is allocated again; the old
	// content is not shown.
	Reused
	// NoData is not produced by NTFS deletes (Windows and ntfs-3g keep
	// the runs); it is here so the states match the ext4 package's.
	NoData
	// Damaged: the record's attributes or runs cannot be used (runs past
	// the volume, an attribute list whose extension records are gone,
	// encryption).
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
	return fmt.Sprintf("DeletedState(%d)", uint8(s))
}

// ErrNotRecoverable is wrapped by OpenDeleted when the record's data is
// gone or no longer its own.
var ErrNotRecoverable = errors.New("ntfs: deleted record is not recoverable")

// Deleted is a base MFT record not in use that still describes a file:
// what The Sleuth Kit's `fls -d` lists and `icat` reads.
type Deleted struct {
	Attr   Attr
	Name   string // its long (Win32 or POSIX) name, else its DOS name
	Parent uint64 // MFT record number of the directory it was in
	State  DeletedState
	Note   string // why it is not recoverable; empty when it is
}

// DeletedRecords lists the files (not directories) among the base MFT
// records from 16 on whose in-use flag is clear, in record order. It
// reads every MFT record.
func (fs *FS) DeletedRecords() ([]Deleted, error) {
	bm, err := fs.Open(recordBitmap)
	if err != nil {
		return nil, fmt.Errorf("deleted records: $Bitmap: %w", err)
	}
	var out []Deleted
	for num := uint64(firstUserRecord); num < uint64(fs.mftRecords); num++ {
		n, err := fs.deletedInode(num)
		if errors.Is(err, ErrCorrupt) || n == nil && err == nil {
			continue // never used, or not a file's record
		}
		if err != nil {
			return out, fmt.Errorf("deleted records: %w", err)
		}
		out = append(out, fs.deletedEntry(n, bm))
	}
	return out, nil
}

// deletedInode reads record num; nil without error when it is in use, an
// extension record, a directory, or has no name.
func (fs *FS) deletedInode(num uint64) (*inode, error) {
	b, err := fs.readRecord(num)
	if err != nil {
		return nil, err
	}
	h, attrs, err := decodeRecord(b, num)
	if err != nil || h.Flags&recInUse != 0 || h.Flags&recDirectory != 0 || h.BaseRef != 0 {
		return nil, nil
	}
	n := &inode{Num: num, Hdr: h, Attrs: attrs}
	if len(n.fileNames()) == 0 {
		return nil, nil
	}
	return n, nil
}

// deletedEntry describes the deleted record n.
func (fs *FS) deletedEntry(n *inode, bm *File) Deleted {
	var d Deleted
	for _, f := range n.fileNames() {
		if d.Name == "" || f.Namespace != nsDOS {
			d.Name, d.Parent = f.String(), f.Parent&0xffffffffffff
		}
	}
	full, err := fs.buildInode(n.Num, n.Hdr, n.Attrs)
	if err != nil {
		d.Attr.Ino, d.State, d.Note = n.Num, Damaged, err.Error()
		return d
	}
	if d.Attr, err = fs.statInode(n.Num, full); err != nil {
		d.Attr.Ino, d.State, d.Note = n.Num, Damaged, err.Error()
		return d
	}
	d.State, d.Note = fs.deletedState(full, bm)
	return d
}

// deletedState decides whether the unnamed $DATA of n is still its own.
func (fs *FS) deletedState(n *inode, bm *File) (DeletedState, string) {
	a := n.find(atData, "")
	switch {
	case a == nil || a.Resident:
		return Recoverable, ""
	case a.Flags&attrEncrypted != 0:
		return Damaged, "encrypted"
	}
	clusters := fs.info.TotalBytes / fs.clusterSize
	var reused int64
	for _, r := range a.Runs {
		if r.LCN == sparseLCN {
			continue
		}
		if r.LCN < 0 || r.Length < 0 || r.LCN+r.Length > clusters {
			return Damaged, fmt.Sprintf("run at cluster %d (+%d) outside the %d clusters of the volume", r.LCN, r.Length, clusters)
		}
		n, err := countSet(bm, r.LCN, r.Length)
		if err != nil {
			return Damaged, fmt.Sprintf("$Bitmap: %v", err)
		}
		reused += n
	}
	if reused > 0 {
		return Reused, fmt.Sprintf("%d of its clusters are allocated again", reused)
	}
	return Recoverable, ""
}

// countSet counts the set bits [first, first+n) of the bitmap file bm.
func countSet(bm *File, first, n int64) (int64, error) {
	if n == 0 {
		return 0, nil
	}
	lo, hi := first/8, (first+n+7)/8
	b := make([]byte, hi-lo)
	if k, err := bm.ReadAt(b, lo); k < len(b) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, fmt.Errorf("bytes %d-%d: %w", lo, hi, err)
	}
	var c int64
	for i := first; i < first+n; i++ {
		if b[i/8-lo]>>(i%8)&1 != 0 {
			c++
		}
	}
	return c, nil
}

// OpenDeleted opens the unnamed data stream of deleted record ino. It
// fails, wrapping ErrNotRecoverable, unless the record is a deleted file
// whose data is Recoverable.
func (fs *FS) OpenDeleted(ino uint64) (*File, error) {
	n, err := fs.deletedInode(ino)
	if err != nil {
		return nil, fmt.Errorf("MFT record %d: %w (%w)", ino, ErrNotRecoverable, err)
	}
	if n == nil {
		return nil, fmt.Errorf("MFT record %d: not a deleted file: %w", ino, ErrNotRecoverable)
	}
	bm, err := fs.Open(recordBitmap)
	if err != nil {
		return nil, fmt.Errorf("MFT record %d: $Bitmap: %w", ino, err)
	}
	full, err := fs.buildInode(n.Num, n.Hdr, n.Attrs)
	if err != nil {
		return nil, fmt.Errorf("MFT record %d: %w (%w)", ino, ErrNotRecoverable, err)
	}
	if st, note := fs.deletedState(full, bm); st != Recoverable {
		return nil, fmt.Errorf("MFT record %d: %s (%s): %w", ino, st, note, ErrNotRecoverable)
	}
	si, err := full.stdInfo()
	if err != nil {
		return nil, fmt.Errorf("MFT record %d: %w (%w)", ino, ErrNotRecoverable, err)
	}
	return fs.openStream(full, "", si)
}
