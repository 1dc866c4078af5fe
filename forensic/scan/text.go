package scan

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// TextFiles is how many files per signal the text report names; --json
// has them all.
const TextFiles = 10

// WriteText writes res for people: a line per point, then each signal
// with the files it names, then (with lastClean) the last clean point,
// its name alone on the last line.
func WriteText(w io.Writer, res *Result, lastClean bool) error {
	bw := bufio.NewWriter(w)
	for i := range res.Points {
		writePoint(bw, &res.Points[i])
	}
	if lastClean {
		switch {
		case res.FirstTripped != "":
			fmt.Fprintf(bw, "# last clean point: %s, the point before %s, the first that tripped a signal\n%s\n",
				res.LastClean, res.FirstTripped, res.LastClean)
		case res.LastClean != "":
			fmt.Fprintf(bw, "# no signal tripped; the newest point scanned is the last clean point\n%s\n", res.LastClean)
		default:
			fmt.Fprintf(bw, "# no signal tripped, but the scan is incomplete: no last clean point\n")
		}
	}
	return bw.Flush()
}

func writePoint(w *bufio.Writer, p *Point) {
	if p.Before == "" && len(p.Errors) == 0 {
		fmt.Fprintf(w, "%s\t-\tthe VM's first point: nothing to compare\n", p.Point)
		return
	}
	state := "clean"
	switch {
	case p.Tripped():
		state = "ALERT"
	case len(p.Errors) > 0:
		state = "INCOMPLETE"
	}
	share := 0.0
	if p.NewBytes > 0 {
		share = 100 * float64(p.StoredBytes) / float64(p.NewBytes)
	}
	fmt.Fprintf(w, "%s\t%s\tsince %s: %s new data (%.0f%% after compression), %d file(s) added or changed",
		p.Point, state, p.Before, formatBytes(p.NewBytes), share, p.Changed)
	if p.Yara != "" {
		fmt.Fprintf(w, "; yara: %s", p.Yara)
	}
	w.WriteByte('\n')
	for _, s := range p.Signals {
		fmt.Fprintf(w, "  %s: %s\n", s.Kind, s.Detail)
		for i, f := range s.Files {
			if i == TextFiles {
				fmt.Fprintf(w, "    ... and %d more (--json lists all)\n", len(s.Files)-i)
				break
			}
			fmt.Fprintf(w, "    %s\n", oneLine(f))
		}
	}
	for _, m := range p.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", oneLine(m))
	}
	for _, m := range p.Errors {
		fmt.Fprintf(w, "  !\t%s\n", oneLine(m))
	}
}

// oneLine quotes what a guest could have put a line break into.
func oneLine(s string) string {
	if strings.ContainsAny(s, "\n\r\t") {
		return fmt.Sprintf("%q", s)
	}
	return s
}
