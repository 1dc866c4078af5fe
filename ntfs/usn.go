package ntfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
)

// ErrNoJournal is returned by USNJournal when the volume has no change
// journal ($Extend/$UsnJrnl with a $J stream). It wraps io/fs.ErrNotExist.
var ErrNoJournal = fmt.Errorf("ntfs: no change journal ($Extend/$UsnJrnl:$J): %w", iofs.ErrNotExist)

// usnMaxRecord bounds one record: a 255-character name needs under 600 bytes.
const usnMaxRecord = 4096

// USNJournal calls fn with each record of the change journal,
// $Extend/$UsnJrnl:$J, in order (USNRecords).
func (fs *FS) USNJournal(fn func(USNRecord) error) error {
	e, err := fs.Lookup(recordExtend, "$UsnJrnl")
	if errors.Is(err, iofs.ErrNotExist) {
		return ErrNoJournal
	} else if err != nil {
		return fmt.Errorf("$Extend/$UsnJrnl: %w", err)
	}
	return fs.USNRecords(e.Ino, "$J", fn)
}

// USNRecords calls fn with each USN record in data stream stream ("" for
// the unnamed one) of inode ino, in order, reading only the allocated
// part of the stream (the front of $J is sparse once the journal has
// wrapped). Zero padding is skipped. A record that cannot be decoded is
// skipped 8 bytes at a time, and the returned error (wrapping ErrCorrupt)
// counts such bytes, after fn saw every good record. An error from fn
// stops the walk and is returned.
func (fs *FS) USNRecords(ino uint64, stream string, fn func(USNRecord) error) error {
	j, ranges, err := fs.usnStream(ino, stream)
	if err != nil {
		return err
	}
	s := usnScanner{r: j, fn: fn, buf: make([]byte, 1<<20)}
	for _, rg := range ranges {
		if err := s.scan(rg[0], rg[1]); err != nil {
			return err
		}
	}
	if s.bad > 0 {
		return fmt.Errorf("MFT record %d stream %q: %w", ino, stream, corruptf("%d bytes in %d places were not USN records, skipped (first at offset %d)", s.bad, s.badRuns, s.firstBad))
	}
	return nil
}

// usnStream opens a journal stream and lists its allocated byte ranges.
func (fs *FS) usnStream(ino uint64, stream string) (io.ReaderAt, [][2]int64, error) {
	n, err := fs.inode(ino)
	if err != nil {
		return nil, nil, fmt.Errorf("USN journal: %w", err)
	}
	a := n.find(atData, stream)
	if a == nil {
		return nil, nil, fmt.Errorf("MFT record %d: no stream %q: %w", ino, stream, ErrNoJournal)
	}
	if a.Flags&(attrEncrypted|attrCompressionMask) != 0 || !a.Resident && a.LowVCN != 0 {
		return nil, nil, fmt.Errorf("MFT record %d stream %q: %w", ino, stream, corruptf("compressed, encrypted or starting at VCN %d", a.LowVCN))
	}
	st := newStream(fs, a, fmt.Sprintf("MFT record %d $DATA %q", n.Num, stream))
	size := st.size()
	if a.Resident {
		return st, [][2]int64{{0, size}}, nil
	}
	var ranges [][2]int64
	for _, r := range a.Runs {
		lo, hi := r.VCN*fs.clusterSize, min((r.VCN+r.Length)*fs.clusterSize, size)
		if r.LCN == sparseLCN || lo >= hi {
			continue
		}
		if k := len(ranges) - 1; k >= 0 && ranges[k][1] == lo {
			ranges[k][1] = hi
		} else {
			ranges = append(ranges, [2]int64{lo, hi})
		}
	}
	return st, ranges, nil
}

// usnScanner decodes the records of byte ranges of $J.
type usnScanner struct {
	r                      io.ReaderAt
	fn                     func(USNRecord) error
	buf                    []byte
	bad, badRuns, firstBad int64
	inBad                  bool
}

// scan decodes the records in [lo, hi), reading a buffer at a time; a
// record cut by the buffer's end is read again at the next buffer's start.
func (s *usnScanner) scan(lo, hi int64) error {
	pos := (lo + 7) &^ 7
	for pos+8 <= hi {
		b := s.buf[:min(int64(len(s.buf)), hi-pos)]
		if k, err := s.r.ReadAt(b, pos); k < len(b) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("$UsnJrnl:$J at offset %d: %w", pos, err)
		}
		last := pos+int64(len(b)) >= hi
		off, err := s.records(b, pos, last)
		if err != nil {
			return err
		}
		pos += int64(off)
	}
	return nil
}

// records decodes the records of b (at offset base of $J) and returns how
// many bytes it consumed; a record running past b is left for the next
// read unless last.
func (s *usnScanner) records(b []byte, base int64, last bool) (int, error) {
	off := 0
	for off+8 <= len(b) {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		if n == 0 {
			s.inBad = false
			off += 8
			continue
		}
		if n <= usnMaxRecord && off+n > len(b) && !last && off > 0 {
			return off, nil // read again from here
		}
		rec, got, err := decodeUSNRecord(b[off:min(len(b), off+usnMaxRecord)])
		if err != nil {
			s.skip(base + int64(off))
			off += 8
			continue
		}
		s.inBad = false
		if err := s.fn(rec); err != nil {
			return off, err
		}
		off += got
	}
	return off, nil
}

func (s *usnScanner) skip(at int64) {
	if !s.inBad {
		if s.badRuns == 0 {
			s.firstBad = at
		}
		s.badRuns++
		s.inBad = true
	}
	s.bad += 8
}
