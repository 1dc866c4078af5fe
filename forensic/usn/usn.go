// Package usn writes the NTFS change journals ($Extend/$UsnJrnl:$J) of a
// point's guest volumes as CSV, one journal record a line, read through
// guestfs.
package usn

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"strconv"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/guestfs"
)

// Header is the CSV header line's fields.
var Header = []string{"disk", "volume", "usn", "time", "mft", "seq", "parent_mft", "parent_seq", "reason", "attributes", "name"}

// ErrNone is returned when no volume of the point has a change journal.
var ErrNone = errors.New("no NTFS volume with a change journal")

// Run writes the CSV of every change journal of point m (of disk only,
// when not "") to w and returns how many records it wrote. Volumes that
// are not NTFS are passed over; an NTFS volume without a journal, or one
// whose journal has damaged parts, goes to warn.
func Run(ctx context.Context, repo *catalog.Repo, m *catalog.Manifest, disk string, w io.Writer, warn func(error)) (int, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(Header); err != nil {
		return 0, err
	}
	n, journals := 0, 0
	for i := range m.Disks {
		name := m.Disks[i].Name
		if disk != "" && name != disk {
			continue
		}
		dr, err := repo.OpenDisk(ctx, m, name)
		if err != nil {
			return n, fmt.Errorf("usn: %w", err)
		}
		gd, err := guestfs.OpenDisk(dr, dr.Size(), nil)
		if err != nil {
			return n, fmt.Errorf("usn: disk %q: %w", name, err)
		}
		for _, v := range gd.Volumes {
			j, ok := v.FS.(guestfs.USNJournaler)
			if v.FS == nil || !ok || v.FS.Type() != "ntfs" {
				continue
			}
			k, err := volume(cw, name, v.Name, j)
			n += k
			switch {
			case errors.Is(err, iofs.ErrNotExist) && k == 0:
				warn(fmt.Errorf("%s/%s: %w", name, v.Name, err))
				continue
			case errors.Is(err, errWrite):
				return n, err
			case err != nil:
				warn(fmt.Errorf("%s/%s: %w", name, v.Name, err))
			}
			journals++
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, err
	}
	if journals == 0 {
		return 0, fmt.Errorf("point %s: %w", m.ID(), ErrNone)
	}
	return n, nil
}

var errWrite = errors.New("write")

// WriteJournal writes one volume's journal as CSV, header first, and
// returns how many records it wrote (the mount's .usnjrnl.csv).
func WriteJournal(w io.Writer, disk, vol string, j guestfs.USNJournaler) (int, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(Header); err != nil {
		return 0, err
	}
	n, err := volume(cw, disk, vol, j)
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	return n, err
}

// volume writes one journal's records.
func volume(cw *csv.Writer, disk, vol string, j guestfs.USNJournaler) (int, error) {
	n := 0
	err := j.USNJournal(func(r guestfs.USNRecord) error {
		n++
		if err := cw.Write(row(disk, vol, r)); err != nil {
			return fmt.Errorf("%w: %w", errWrite, err)
		}
		return nil
	})
	return n, err
}

func row(disk, vol string, r guestfs.USNRecord) []string {
	u := strconv.FormatUint
	return []string{disk, vol, strconv.FormatInt(r.USN, 10), r.Time.UTC().Format(time.RFC3339Nano),
		u(r.Ino, 10), u(uint64(r.Seq), 10), u(r.ParentIno, 10), u(uint64(r.ParentSeq), 10),
		r.Reason, "0x" + u(uint64(r.FileAttributes), 16), r.Name}
}
