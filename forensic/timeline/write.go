package timeline

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vmarchive/vmarchive/index"
)

// Writer writes events in one format.
type Writer interface {
	Write(*Event) error
	Flush() error
}

// Formats lists the output formats NewWriter knows.
var Formats = []string{"bodyfile", "csv", "jsonl"}

// NewWriter returns a writer of format ("bodyfile", "csv", "jsonl") on w,
// for the events of vm.
func NewWriter(w io.Writer, format, vm string) (Writer, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	switch format {
	case "bodyfile":
		return &bodyWriter{w: bw}, nil
	case "csv":
		cw := csv.NewWriter(bw)
		return &rowWriter{vm: vm, bw: bw, csv: cw, header: true}, nil
	case "jsonl":
		return &rowWriter{vm: vm, bw: bw, json: json.NewEncoder(bw)}, nil
	}
	return nil, fmt.Errorf("timeline format %q: want one of %s", format, strings.Join(Formats, ", "))
}

// describe says what a vmarchive event means, in words.
func describe(e *Event) string {
	switch e.Kind {
	case Present:
		return "present from point " + e.Point
	case Changed:
		if e.Note != "" {
			return "content may have changed between points " + e.Before + " and " + e.Point + " (" + e.Note + ")"
		}
		return "content changed between points " + e.Before + " and " + e.Point
	case Deleted:
		return "deleted between points " + e.Before + " and " + e.Point
	case Renamed:
		return "renamed from " + e.OldPath + " between points " + e.Before + " and " + e.Point
	}
	return e.Kind.String()
}

// macb is one of a file's four times.
type macb struct {
	flag byte // 'm', 'a', 'c', 'b'
	name string
	t    time.Time
}

func times(e *index.Entry) [4]macb {
	return [4]macb{{'m', "mtime", e.Mtime}, {'a', "atime", e.Atime}, {'c', "ctime", e.Ctime}, {'b', "crtime", e.Crtime}}
}
