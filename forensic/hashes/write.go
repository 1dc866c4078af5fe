package hashes

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Algos lists the algorithms, in hashdeep's column order.
var Algos = []string{"md5", "sha1", "sha256"}

// Writer writes sums in one format.
type Writer struct {
	w      *bufio.Writer
	algos  []string
	deep   bool
	header []string // hashdeep comment lines after the column line
	buf    []byte
}

// NewWriter returns a writer of format "hashdeep" (hashdeep's file
// format: size, the digests in the order md5, sha1, sha256, then the
// name) or "sha256sum" (the coreutils *sum format, which takes one
// algorithm), for algos (names from Algos; nil for the format's default:
// md5,sha256 for hashdeep, sha256 for sha256sum). invokedFrom and command
// fill hashdeep's "##" comment lines.
func NewWriter(w io.Writer, format string, algos []string, invokedFrom, command string) (*Writer, error) {
	for _, a := range algos {
		if !slices.Contains(Algos, a) {
			return nil, fmt.Errorf("hash algorithm %q: want md5, sha1 or sha256", a)
		}
	}
	wr := &Writer{w: bufio.NewWriterSize(w, 64<<10)}
	switch format {
	case "hashdeep":
		if len(algos) == 0 {
			algos = []string{"md5", "sha256"}
		}
		wr.deep = true
		wr.header = []string{"## Invoked from: " + invokedFrom, "## $ " + command, "## "}
	case "sha256sum":
		if len(algos) == 0 {
			algos = []string{"sha256"}
		}
		if len(slices.Compact(slices.Sorted(slices.Values(algos)))) != 1 {
			return nil, fmt.Errorf("format sha256sum takes one algorithm, not %s", strings.Join(algos, ","))
		}
	default:
		return nil, fmt.Errorf("hash format %q: want hashdeep or sha256sum", format)
	}
	for _, a := range Algos { // hashdeep's order, each once
		if slices.Contains(algos, a) {
			wr.algos = append(wr.algos, a)
		}
	}
	return wr, nil
}

// Header writes hashdeep's header (nothing for sha256sum).
func (w *Writer) Header() error {
	if !w.deep {
		return nil
	}
	fmt.Fprintf(w.w, "%%%%%%%% HASHDEEP-1.0\n%%%%%%%% size,%s,filename\n", strings.Join(w.algos, ","))
	for _, l := range w.header {
		fmt.Fprintln(w.w, l)
	}
	return nil
}

// Write writes the line of s; a file that could not be read has none.
func (w *Writer) Write(s *Sums) error {
	if s.Err != "" {
		return nil
	}
	if w.deep {
		return w.writeDeep(s)
	}
	name, esc := escapeSumName(s.Path)
	b := w.buf[:0]
	if esc {
		b = append(b, '\\')
	}
	b = hex.AppendEncode(b, w.digest(s, w.algos[0]))
	b = append(b, "  "...)
	b = append(b, name...)
	b = append(b, '\n')
	w.buf = b
	_, err := w.w.Write(b)
	return err
}

// writeDeep writes a hashdeep line: size,digests...,name. hashdeep does
// not quote names; a name with a newline would break the line, so such
// names have it escaped as \n (and backslashes as \\) as sha256sum does.
func (w *Writer) writeDeep(s *Sums) error {
	b := strconv.AppendInt(w.buf[:0], s.Size, 10)
	for _, a := range w.algos {
		b = append(b, ',')
		b = hex.AppendEncode(b, w.digest(s, a))
	}
	b = append(b, ',')
	name, _ := escapeSumName(s.Path)
	b = append(b, name...)
	b = append(b, '\n')
	w.buf = b
	_, err := w.w.Write(b)
	return err
}

func (w *Writer) digest(s *Sums, algo string) []byte {
	switch algo {
	case "md5":
		return s.MD5[:]
	case "sha1":
		return s.SHA1[:]
	}
	return s.SHA256[:]
}

// Flush writes what is buffered.
func (w *Writer) Flush() error { return w.w.Flush() }

// escapeSumName escapes a name as GNU sha256sum does: "\" as "\\",
// newline as "\n", carriage return as "\r"; esc says it did.
func escapeSumName(s string) (string, bool) {
	if !strings.ContainsAny(s, "\\\n\r") {
		return s, false
	}
	r := strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`)
	return r.Replace(s), true
}
