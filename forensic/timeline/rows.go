package timeline

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/vmarchive/vmarchive/index"
)

// rowWriter writes one row per event time, with the fields Timesketch
// asks for (message, datetime, timestamp_desc) and what vmarchive knows:
// as CSV with a header, or as JSON lines. A file event gives one row per
// distinct non-zero time, naming the times it stands for ("m.c."); a
// vmarchive event one row at its point's time.
type rowWriter struct {
	vm     string
	bw     *bufio.Writer
	csv    *csv.Writer
	json   *json.Encoder
	header bool // the CSV header is still to write
}

// row is one line of csv or jsonl output.
type row struct {
	Message       string `json:"message"`
	Datetime      string `json:"datetime"`
	Timestamp     int64  `json:"timestamp"` // microseconds since 1970
	TimestampDesc string `json:"timestamp_desc"`
	MACB          string `json:"macb"`
	Event         string `json:"event"`
	VM            string `json:"vm"`
	Point         string `json:"point"`
	Before        string `json:"before,omitempty"`
	Disk          string `json:"disk"`
	Volume        string `json:"volume"`
	Path          string `json:"path"`
	OldPath       string `json:"old_path,omitempty"`
	Inode         uint64 `json:"inode"`
	Type          string `json:"type"`
	Mode          string `json:"mode"`
	UID           uint32 `json:"uid"`
	GID           uint32 `json:"gid"`
	Size          int64  `json:"size"`
	ContentKey    string `json:"content_key,omitempty"`
}

var csvHeader = []string{"message", "datetime", "timestamp", "timestamp_desc", "macb", "event", "vm", "point", "before",
	"disk", "volume", "path", "old_path", "inode", "type", "mode", "uid", "gid", "size", "content_key"}

func (w *rowWriter) Write(e *Event) error {
	base := row{Event: e.Kind.String(), VM: w.vm, Point: e.Point, Before: e.Before, Disk: e.Disk, Volume: e.Volume,
		Path: e.GuestPath, OldPath: e.OldPath, Inode: e.Ino, Type: index.TypeName(e.Mode), Mode: index.FileMode(e.Mode).String(),
		UID: e.Uid, GID: e.Gid, Size: e.Size}
	if e.HasKey {
		base.ContentKey = e.Key.String()
	}
	if e.Kind != File {
		base.MACB, base.TimestampDesc = "....", "vmarchive: "+e.Kind.String()
		base.Message = e.GuestPath + ": " + describe(e)
		return w.put(base, e.PointTime)
	}
	ts := times(&e.Entry)
	for i, t := range ts {
		if t.t.IsZero() || seenBefore(ts[:i], t.t) {
			continue
		}
		flags, names := []byte("...."), []string{}
		for j, u := range ts {
			if u.t.Equal(t.t) {
				flags[j] = u.flag
				names = append(names, u.name)
			}
		}
		r := base
		r.MACB, r.TimestampDesc = string(flags), strings.Join(names, " ")
		r.Message = e.GuestPath + ": " + r.TimestampDesc
		if err := w.put(r, t.t); err != nil {
			return err
		}
	}
	return nil
}

func seenBefore(ts []macb, t time.Time) bool {
	for _, u := range ts {
		if u.t.Equal(t) {
			return true
		}
	}
	return false
}

func (w *rowWriter) put(r row, t time.Time) error {
	r.Datetime = t.UTC().Format(time.RFC3339Nano)
	r.Timestamp = t.UnixMicro()
	if w.json != nil {
		return w.json.Encode(&r)
	}
	if w.header {
		w.header = false
		if err := w.csv.Write(csvHeader); err != nil {
			return err
		}
	}
	u := strconv.FormatUint
	return w.csv.Write([]string{r.Message, r.Datetime, strconv.FormatInt(r.Timestamp, 10), r.TimestampDesc, r.MACB, r.Event,
		r.VM, r.Point, r.Before, r.Disk, r.Volume, r.Path, r.OldPath, u(r.Inode, 10), r.Type, r.Mode,
		u(uint64(r.UID), 10), u(uint64(r.GID), 10), strconv.FormatInt(r.Size, 10), r.ContentKey})
}

func (w *rowWriter) Flush() error {
	if w.csv != nil {
		if w.header { // no event: still a header
			w.header = false
			if err := w.csv.Write(csvHeader); err != nil {
				return err
			}
		}
		w.csv.Flush()
		if err := w.csv.Error(); err != nil {
			return err
		}
	}
	return w.bw.Flush()
}
