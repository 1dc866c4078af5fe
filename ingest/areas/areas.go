// Package areas reads changed-areas lists (offset/length pairs, as VMware
// changed block tracking reports them) and merges extents.
package areas

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/vmarchive/vmarchive/ingest/image"
)

// Parse reads a changed-areas list: either JSON as vSphere's
// QueryChangedDiskAreas reports it (an array of {"start":N,"length":N}, or
// an object with such a "changedArea" array), or text with one
// "offset length" pair per line (decimal or 0x hex, '#' comments).
// Areas are checked against the disk size, sorted and merged.
func Parse(r io.Reader, diskSize int64) ([]image.Extent, error) {
	data, err := io.ReadAll(io.LimitReader(r, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("changed areas: %w", err)
	}
	var ext []image.Extent
	if t := bytes.TrimSpace(data); len(t) > 0 && (t[0] == '[' || t[0] == '{') {
		ext, err = parseChangedJSON(t)
	} else {
		ext, err = parseChangedText(data)
	}
	if err != nil {
		return nil, fmt.Errorf("changed areas: %w", err)
	}
	for _, e := range ext {
		if e.Off < 0 || e.Len < 0 || e.Off > diskSize || e.Len > diskSize-e.Off {
			return nil, fmt.Errorf("changed areas: area at %d length %d lies outside the disk (%d bytes)", e.Off, e.Len, diskSize)
		}
	}
	return Merge(ext), nil
}

type cbtArea struct {
	Start  *int64 `json:"start"`
	Length *int64 `json:"length"`
}

func parseChangedJSON(b []byte) ([]image.Extent, error) {
	var areas []cbtArea
	if b[0] == '{' {
		var obj struct {
			ChangedArea []cbtArea `json:"changedArea"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return nil, fmt.Errorf("JSON: %w", err)
		}
		areas = obj.ChangedArea
	} else if err := json.Unmarshal(b, &areas); err != nil {
		return nil, fmt.Errorf("JSON: %w", err)
	}
	out := make([]image.Extent, 0, len(areas))
	for i, a := range areas {
		if a.Start == nil || a.Length == nil {
			return nil, fmt.Errorf("JSON area %d: want start and length", i)
		}
		out = append(out, image.Extent{Off: *a.Start, Len: *a.Length})
	}
	return out, nil
}

func parseChangedText(b []byte) ([]image.Extent, error) {
	var out []image.Extent
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		s := sc.Text()
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = s[:i]
		}
		f := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' })
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want \"offset length\", got %q", line, sc.Text())
		}
		off, err1 := strconv.ParseInt(f[0], 0, 64)
		n, err2 := strconv.ParseInt(f[1], 0, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("line %d: want two integers, got %q", line, sc.Text())
		}
		out = append(out, image.Extent{Off: off, Len: n})
	}
	return out, sc.Err()
}

// Merge sorts extents and merges overlapping or touching ones,
// dropping empty ones.
func Merge(ext []image.Extent) []image.Extent {
	sort.Slice(ext, func(i, j int) bool { return ext[i].Off < ext[j].Off })
	var out []image.Extent
	for _, e := range ext {
		if e.Len <= 0 {
			continue
		}
		if n := len(out); n > 0 && e.Off <= out[n-1].Off+out[n-1].Len {
			if end := e.Off + e.Len; end > out[n-1].Off+out[n-1].Len {
				out[n-1].Len = end - out[n-1].Off
			}
			continue
		}
		out = append(out, e)
	}
	return out
}
