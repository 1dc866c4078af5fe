package diff

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/vmarchive/vmarchive/catalog/format"
)

// WriteText writes the report the way git diff --name-status does: one
// line per changed path, "STATUS<tab>PATH", a rename as
// "R<tab>OLD<tab>NEW", followed by a tab and the fields that differ. Paths
// are <disk>/<volume><path>, as in the mounted tree. Warnings come first
// as "# warning: ..." lines. Each disk starts with a summary line beginning
// with "#"; whatever could not be compared is a line "!<tab>WHERE<tab>WHY"
// (a disk, a volume, a path that could not be read in one point, or after
// a change the path whose content could not be read). With blocks, every changed range follows with its owners in each
// point; an owner that cannot be told reads "unknown: WHY".
func WriteText(w io.Writer, r *Report, blocks bool) error {
	bw := bufio.NewWriter(w)
	for _, wn := range r.Warnings {
		fmt.Fprintf(bw, "# warning: %s\n", oneLine(wn))
	}
	for _, d := range r.Disks {
		fmt.Fprintf(bw, "# %s\n", diskSummary(d))
		for _, e := range d.Errors {
			fmt.Fprintf(bw, "!\t%s\t%s\n", d.Name, oneLine(e))
		}
		for _, v := range d.Volumes {
			prefix := d.Name + "/" + v.Name
			if v.Err != "" {
				fmt.Fprintf(bw, "!\t%s\t%s\n", prefix, oneLine(v.Err))
			}
			errs := v.Errors
			// Each path error follows the changes up to its path.
			flush := func(upTo string, all bool) {
				for len(errs) > 0 && (all || errs[0].Path < upTo) {
					fmt.Fprintf(bw, "!\t%s%s\t%s\n", prefix, errs[0].Path, oneLine(errs[0].Err))
					errs = errs[1:]
				}
			}
			for _, c := range v.Changes {
				flush(c.Path, false)
				switch {
				case c.Status == Renamed:
					fmt.Fprintf(bw, "%s\t%s%s\t%s%s", c.Status, prefix, c.From, prefix, c.Path)
				default:
					fmt.Fprintf(bw, "%s\t%s%s", c.Status, prefix, c.Path)
				}
				if len(c.Fields) > 0 {
					fmt.Fprintf(bw, "\t%s", strings.Join(c.Fields, ","))
				}
				bw.WriteByte('\n')
				if c.Err != "" {
					fmt.Fprintf(bw, "!\t%s%s\t%s\n", prefix, c.Path, oneLine(c.Err))
				}
			}
			flush("", true)
		}
		if blocks {
			writeRanges(bw, d)
		}
	}
	return bw.Flush()
}

// writeRanges writes the changed ranges of d and their owners.
func writeRanges(bw *bufio.Writer, d *Disk) {
	for _, rg := range d.Ranges {
		vol := rg.Volume
		if vol == "" {
			vol = "-"
		}
		fmt.Fprintf(bw, "@\t%s\t%d+%d\t%s\n", d.Name, rg.Off, rg.Len, vol)
		for _, side := range []struct {
			name string
			os   []Owner
		}{{"A", rg.A}, {"B", rg.B}} {
			for _, o := range side.os {
				fmt.Fprintf(bw, "\t%s\t%d+%d\t%s", side.name, o.Off, o.Len, o.Kind)
				switch {
				case o.Path != "":
					fmt.Fprintf(bw, "\t%s/%s%s", d.Name, rg.Volume, o.Path)
					if o.Note != "" {
						fmt.Fprintf(bw, "\t(%s)", oneLine(o.Note))
					}
				case o.Note != "":
					fmt.Fprintf(bw, ": %s", oneLine(o.Note))
				}
				bw.WriteByte('\n')
			}
		}
	}
}

func diskSummary(d *Disk) string {
	switch d.Status {
	case Added:
		return fmt.Sprintf("%s: only in B (%s)", d.Name, size(d.SizeB))
	case Deleted:
		return fmt.Sprintf("%s: only in A (%s)", d.Name, size(d.SizeA))
	}
	s := fmt.Sprintf("%s: %s changed in %d ranges (%s)", d.Name, size(d.ChangedBytes), len(d.Ranges), units(d))
	if d.SizeA != d.SizeB {
		s += fmt.Sprintf("; size %s -> %s", size(d.SizeA), size(d.SizeB))
	}
	return s
}

// units says what a disk's ranges are made of. Unrefined format-2 ranges
// are whole chunks of any multiple of 4 KiB: "4 KiB units" read as if
// the changed blocks had been found.
func units(d *Disk) string {
	switch {
	case d.Refined:
		return size(d.Granularity) + " blocks"
	case d.Granularity == format.MapAlign:
		return "whole chunks; --blocks narrows them"
	}
	return size(d.Granularity) + " chunks"
}

func size(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n)/1024, 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if f == float64(int64(f)) {
		return fmt.Sprintf("%d %ciB", int64(f), units[i])
	}
	return fmt.Sprintf("%.1f %ciB", f, units[i])
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
