package export

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// holeBlock is the granularity at which zeros written to a regular file
// become holes: the page and usual filesystem block size.
const holeBlock = 4096

// directWrite is the size from which a piece bypasses the buffer of a
// non-file output.
const directWrite = 32 << 10

// sink is the output: bytes in order, zeros as holes when it can seek.
type sink struct {
	w    *bufio.Writer
	out  io.Writer // what w writes to
	f    *os.File  // a regular file we may seek in, else nil
	base int64     // f's offset when the export started
	off  int64     // bytes emitted so far, zeros included
	pend int64     // zeros emitted to f but neither written nor sought past
}

func newSink(w io.Writer) (*sink, error) {
	s := &sink{w: bufio.NewWriterSize(w, 1<<20), out: w}
	f, ok := w.(*os.File)
	if !ok {
		return s, nil
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return s, nil
	}
	// An O_APPEND file ignores seeks: write its zeros.
	if fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0); err != nil || fl&unix.O_APPEND != 0 {
		return s, nil
	}
	base, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return s, nil
	}
	s.f, s.base = f, base
	return s, nil
}

// Write emits b; on a file, whole blocks of zeros in it become holes.
func (s *sink) Write(b []byte) error {
	if s.f == nil {
		s.off += int64(len(b))
		if len(b) < directWrite {
			_, err := s.w.Write(b)
			return err
		}
		// A large piece (a VMDK grain) goes out as it is, not copied.
		if err := s.w.Flush(); err != nil {
			return err
		}
		_, err := s.out.Write(b)
		return err
	}
	for len(b) > 0 {
		n := min(int(holeBlock-s.off%holeBlock), len(b))
		if n == holeBlock && allZero(b[:n]) {
			s.pend += int64(n)
		} else if err := s.data(b[:n]); err != nil {
			return err
		}
		s.off += int64(n)
		b = b[n:]
	}
	return nil
}

// data writes b at the current offset, seeking past pending zeros first.
func (s *sink) data(b []byte) error {
	if s.pend > 0 {
		if err := s.w.Flush(); err != nil {
			return err
		}
		if _, err := s.f.Seek(s.base+s.off, io.SeekStart); err != nil {
			return fmt.Errorf("seek output: %w", err)
		}
		s.pend = 0
	}
	_, err := s.w.Write(b)
	return err
}

// Zero emits n zero bytes.
func (s *sink) Zero(n int64) error {
	if s.f != nil {
		s.pend += n
		s.off += n
		return nil
	}
	for n > 0 {
		k := min(n, int64(len(zeroBuf)))
		if _, err := s.w.Write(zeroBuf[:k]); err != nil {
			return err
		}
		n -= k
		s.off += k
	}
	return nil
}

// finish flushes the output and, on a file ending in zeros, sets its size.
func (s *sink) finish() error {
	if err := s.w.Flush(); err != nil {
		return err
	}
	if s.f != nil && s.pend > 0 {
		if err := s.f.Truncate(s.base + s.off); err != nil {
			return fmt.Errorf("set output size: %w", err)
		}
		if _, err := s.f.Seek(s.base+s.off, io.SeekStart); err != nil {
			return fmt.Errorf("seek output: %w", err)
		}
	}
	return nil
}

var zeroBuf = make([]byte, 1<<20)

// allZero reports whether b holds only zeros.
func allZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
