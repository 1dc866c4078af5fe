package chunker

// Piece is one extent of a disk as the selection cut it: [Off, Off+Len)
// is a data chunk, or a hole (a run of zero blocks) when Hole is set.
type Piece struct {
	Off, Len int64
	Hole     bool
}

// End is the offset just past the piece.
func (p Piece) End() int64 { return p.Off + p.Len }

// Selector turns marks, fed in disk order, into pieces. A data chunk ends
// at the first candidate at least Min past its start, at Max, before a
// zero block, or at the disk's end; a hole ends before a data block.
//
// What it cuts after a boundary depends only on the marks after it: a
// Selector started at any boundary another one cut continues exactly as
// that one did. That is what lets a changed-areas ingest restart at an
// old boundary before a change and stop at the first new boundary that
// is also an old one past it.
type Selector struct {
	min, max int64
	start    int64 // where the open piece starts: the last boundary
	pos      int64 // end of the blocks fed so far
	hole     bool  // the open piece (if pos > start) is a hole
}

// NewSelector starts selecting at off, which must be a boundary: 0, or
// where an earlier selection cut.
func (c *Cutter) NewSelector(off int64) *Selector {
	return &Selector{min: int64(c.p.Min), max: int64(c.p.Max), start: off, pos: off}
}

// Pos is the end of the blocks fed so far; Start is the last boundary.
func (s *Selector) Pos() int64   { return s.pos }
func (s *Selector) Start() int64 { return s.start }

// Add feeds the mark of the n-byte block at Pos (n is Block but for the
// disk's tail) and appends the pieces it completes to out.
func (s *Selector) Add(out []Piece, m Mark, n int) []Piece {
	open := s.pos > s.start
	if open && s.hole != (m == Zero) {
		out = append(out, Piece{Off: s.start, Len: s.pos - s.start, Hole: s.hole})
		s.start = s.pos
	}
	s.hole = m == Zero
	s.pos += int64(n)
	if s.hole {
		return out
	}
	if l := s.pos - s.start; (m == Cand && l >= s.min) || l >= s.max {
		out = append(out, Piece{Off: s.start, Len: l})
		s.start = s.pos
	}
	return out
}

// OpenData reports whether blocks fed since the last boundary make a
// data chunk not yet cut (their bytes are still needed).
func (s *Selector) OpenData() bool { return s.pos > s.start && !s.hole }

// AddZeros feeds n bytes of zero blocks at once (an unallocated span);
// n is a multiple of Block but for the disk's tail.
func (s *Selector) AddZeros(out []Piece, n int64) []Piece {
	if n <= 0 {
		return out
	}
	if s.pos > s.start && !s.hole {
		out = append(out, Piece{Off: s.start, Len: s.pos - s.start})
		s.start = s.pos
	}
	s.hole = true
	s.pos += n
	return out
}

// Boundary ends the open data chunk, if any, at Pos: a boundary the
// caller knows of (where a large guest file starts or ends), whatever the
// marks say. Holes are left open.
func (s *Selector) Boundary(out []Piece) []Piece {
	if s.OpenData() {
		out = append(out, Piece{Off: s.start, Len: s.pos - s.start})
		s.start = s.pos
	}
	return out
}

// Flush appends the open piece, if any: the disk (or the part of it being
// cut) ends at Pos.
func (s *Selector) Flush(out []Piece) []Piece {
	if s.pos > s.start {
		out = append(out, Piece{Off: s.start, Len: s.pos - s.start, Hole: s.hole})
		s.start = s.pos
	}
	return out
}

// Cut is the whole selection over data starting at off (a boundary):
// marks, selection and the final flush. For tests, tools and small inputs.
func (c *Cutter) Cut(data []byte, off int64) []Piece {
	marks := c.Marks(nil, data)
	s := c.NewSelector(off)
	var out []Piece
	for i, m := range marks {
		out = s.Add(out, m, min(Block, len(data)-i*Block))
	}
	return s.Flush(out)
}
