package web

import (
	"errors"
	"io"
)

// blockReader is an io.ReadSeeker over an io.ReaderAt that reads 1 MiB at
// a time: http.ServeContent copies in 32 KiB pieces, and each ReadAt of
// the archive has a fixed cost (a chunk lookup and copy).
type blockReader struct {
	ra       io.ReaderAt
	size     int64
	off      int64  // next byte Read returns
	buf      []byte // bytes from bufOff
	bufOff   int64
	bufBytes int
}

const blockSize = 1 << 20

func newBlockReader(ra io.ReaderAt, size int64) *blockReader {
	return &blockReader{ra: ra, size: size}
}

func (r *blockReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if r.off < r.bufOff || r.off >= r.bufOff+int64(r.bufBytes) {
		if r.buf == nil {
			r.buf = make([]byte, blockSize)
		}
		want := min(int64(blockSize), r.size-r.off)
		n, err := r.ra.ReadAt(r.buf[:want], r.off)
		if n < int(want) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		r.bufOff, r.bufBytes = r.off, n
	}
	n := copy(p, r.buf[r.off-r.bufOff:r.bufBytes])
	r.off += int64(n)
	return n, nil
}

func (r *blockReader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += r.off
	case io.SeekEnd:
		off += r.size
	}
	if off < 0 {
		return 0, errors.New("seek before the start")
	}
	r.off = off
	return off, nil
}
