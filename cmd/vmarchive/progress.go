package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"
)

// progress draws "done / total, rate, ETA" on stderr when it is a terminal
// and stays silent otherwise.
type progress struct {
	w     io.Writer
	start time.Time
	label string
	on    bool
	drawn bool
}

func newProgress(w io.Writer, label string) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, start: time.Now(), label: label, on: ok && term.IsTerminal(int(f.Fd()))}
}

func (p *progress) update(done, total int64) {
	if !p.on {
		return
	}
	el := time.Since(p.start).Seconds()
	rate := float64(done) / max(el, 1e-3)
	eta := "?"
	if rate > 0 && total >= done {
		eta = time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	fmt.Fprintf(p.w, "\r\033[K%s %5.1f%%  %s / %s  %s/s  ETA %s", p.label, pct, formatBytes(done), formatBytes(total), formatBytes(int64(rate)), eta)
	p.drawn = true
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// progressWriter reports bytes written through it.
type progressWriter struct {
	w     io.Writer
	p     *progress
	total int64
	n     int64
	shown time.Time
}

func (pw *progressWriter) Write(b []byte) (int, error) {
	n, err := pw.w.Write(b)
	pw.n += int64(n)
	if time.Since(pw.shown) > 200*time.Millisecond {
		pw.shown = time.Now()
		pw.p.update(pw.n, pw.total)
	}
	return n, err
}
