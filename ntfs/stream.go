package ntfs

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
)

// stream reads the value of one attribute: resident, non-resident with
// sparse runs, or LZNT1-compressed. Bytes past initialized_size read as
// zeros. Safe for concurrent use.
type stream struct {
	fs   *FS
	a    *attribute
	what string // for errors: "record 42 $DATA"

	mu       sync.Mutex // guards unitIdx and unitBuf
	unitIdx  int64      // compression unit held in unitBuf, -1 if none
	unitBuf  []byte
	unitBad  error
	unitSize int64
}

func newStream(fs *FS, a *attribute, what string) *stream {
	s := &stream{fs: fs, a: a, what: what, unitIdx: -1}
	if s.compressed() {
		s.unitSize = fs.clusterSize << a.CompUnit
	}
	return s
}

func (s *stream) size() int64 { return s.a.size() }

func (s *stream) compressed() bool {
	return !s.a.Resident && s.a.Flags&attrCompressionMask != 0 && s.a.CompUnit != 0
}

// ReadAt implements io.ReaderAt.
func (s *stream) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%s: negative offset %d", s.what, off)
	}
	size := s.size()
	if off >= size {
		return 0, io.EOF
	}
	want := p
	if int64(len(p)) > size-off {
		want = p[:size-off]
	}
	var err error
	switch {
	case s.a.Resident:
		copy(want, s.a.Value[off:])
	case s.compressed():
		err = s.readCompressed(want, off)
	default:
		err = s.readPlain(want, off)
	}
	if err != nil {
		return 0, err
	}
	if len(want) < len(p) {
		return len(want), io.EOF
	}
	return len(want), nil
}

// findRun returns the index of the run holding vcn, or len(runs).
func findRun(runs []run, vcn int64) int {
	i := sort.Search(len(runs), func(i int) bool { return runs[i].VCN+runs[i].Length > vcn })
	if i < len(runs) && runs[i].VCN > vcn {
		return len(runs)
	}
	return i
}

// readPlain reads an uncompressed non-resident value.
func (s *stream) readPlain(p []byte, off int64) error {
	cs := s.fs.clusterSize
	for len(p) > 0 {
		if off >= s.a.InitSize {
			clear(p)
			return nil
		}
		n := int64(len(p))
		if n > s.a.InitSize-off {
			n = s.a.InitSize - off
		}
		vcn := off / cs
		i := findRun(s.a.Runs, vcn)
		if i == len(s.a.Runs) {
			return corruptf("%s: no run maps VCN %d (offset %d)", s.what, vcn, off)
		}
		r := s.a.Runs[i]
		inRun := (r.VCN+r.Length)*cs - off
		if n > inRun {
			n = inRun
		}
		if r.LCN == sparseLCN {
			clear(p[:n])
		} else if err := s.fs.readVolume(p[:n], r.LCN*cs+off-r.VCN*cs); err != nil {
			return fmt.Errorf("%s at offset %d: %w", s.what, off, err)
		}
		p, off = p[n:], off+n
	}
	return nil
}

// readCompressed reads through whole compression units.
func (s *stream) readCompressed(p []byte, off int64) error {
	for len(p) > 0 {
		u := off / s.unitSize
		inUnit := off - u*s.unitSize
		n := s.unitSize - inUnit
		if n > int64(len(p)) {
			n = int64(len(p))
		}
		if err := s.copyUnit(p[:n], u, inUnit); err != nil {
			return err
		}
		p, off = p[n:], off+n
	}
	return nil
}

// copyUnit copies bytes of decompressed unit u starting at inUnit into p.
func (s *stream) copyUnit(p []byte, u, inUnit int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unitIdx != u {
		buf, err := s.decodeUnit(u)
		if err != nil {
			return err
		}
		s.unitIdx, s.unitBuf = u, buf
	}
	if s.unitBuf == nil {
		clear(p)
	} else {
		copy(p, s.unitBuf[inUnit:])
	}
	// Zero what lies past initialized_size.
	start := u*s.unitSize + inUnit
	if end := start + int64(len(p)); end > s.a.InitSize {
		z := s.a.InitSize - start
		if z < 0 {
			z = 0
		}
		clear(p[z:])
	}
	return nil
}

// decodeUnit returns compression unit u decompressed, or nil for a unit
// that is entirely sparse.
func (s *stream) decodeUnit(u int64) ([]byte, error) {
	cs := s.fs.clusterSize
	per := int64(1) << s.a.CompUnit
	vcn0 := u * per
	type seg struct{ lcn, n int64 }
	var segs []seg
	var alloc int64
	for vcn := vcn0; vcn < vcn0+per; {
		i := findRun(s.a.Runs, vcn)
		if i == len(s.a.Runs) {
			break // past the runlist: the rest is sparse
		}
		r := s.a.Runs[i]
		n := min(r.VCN+r.Length, vcn0+per) - vcn
		if r.LCN != sparseLCN {
			segs = append(segs, seg{r.LCN + vcn - r.VCN, n})
			alloc += n
		}
		vcn += n
	}
	if alloc == 0 {
		return nil, nil
	}
	raw := make([]byte, alloc*cs)
	pos := int64(0)
	for _, sg := range segs {
		if err := s.fs.readVolume(raw[pos:pos+sg.n*cs], sg.lcn*cs); err != nil {
			return nil, fmt.Errorf("%s compression unit %d: %w", s.what, u, err)
		}
		pos += sg.n * cs
	}
	if alloc == per {
		return raw, nil // stored uncompressed
	}
	out := make([]byte, s.unitSize)
	if _, err := decompressLZNT1(out, raw); err != nil {
		return nil, fmt.Errorf("%s compression unit %d: %w", s.what, u, err)
	}
	return out, nil
}

// extents maps the stream's allocated clusters to volume bytes.
func (s *stream) extents() []Extent {
	if s.a.Resident {
		return nil
	}
	cs := s.fs.clusterSize
	limit := s.a.DataSize
	var out []Extent
	for _, r := range s.a.Runs {
		if r.LCN == sparseLCN || r.VCN*cs >= limit && !s.compressed() {
			continue
		}
		l := r.Length * cs
		if !s.compressed() && r.VCN*cs+l > limit {
			l = limit - r.VCN*cs
		}
		if n := len(out); n > 0 && out[n-1].Logical+out[n-1].Length == r.VCN*cs && out[n-1].Physical+out[n-1].Length == r.LCN*cs {
			out[n-1].Length += l
			continue
		}
		out = append(out, Extent{Logical: r.VCN * cs, Physical: r.LCN * cs, Length: l})
	}
	return out
}

// readAll reads a whole attribute value, refusing values larger than max.
func (s *stream) readAll(max int64) ([]byte, error) {
	n := s.size()
	if n > max {
		return nil, corruptf("%s: value of %d bytes exceeds limit %d", s.what, n, max)
	}
	b := make([]byte, n)
	if _, err := s.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b, nil
}
