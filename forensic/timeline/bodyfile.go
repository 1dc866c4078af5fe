package timeline

import (
	"bufio"
	"strconv"
	"syscall"
	"time"
)

// bodyWriter writes The Sleuth Kit's body format (mactime -b), version 3:
//
//	MD5|name|inode|mode_as_string|UID|GID|size|atime|mtime|ctime|crtime
//
// with times in Unix seconds, 0 when unknown. A file event is one line
// with the file's times; a vmarchive event is a line whose name is the
// path followed by " (vmarchive: what)" and whose four times are the
// point's. MD5 is 0 (unknown), as fls writes it. Names escape "|", "\"
// and control bytes as \xHH so a line stays one line of 11 fields.
type bodyWriter struct {
	w   *bufio.Writer
	buf []byte
}

func (b *bodyWriter) Write(e *Event) error {
	name := escapeName(e.GuestPath)
	a, m, c, cr := e.Atime, e.Mtime, e.Ctime, e.Crtime
	if e.Kind != File {
		name += " (vmarchive: " + escapeName(describe(e)) + ")"
		a, m, c, cr = e.PointTime, e.PointTime, e.PointTime, e.PointTime
	}
	l := append(b.buf[:0], "0|"...)
	l = append(l, name...)
	l = append(l, '|')
	l = strconv.AppendUint(l, e.Ino, 10)
	l = append(l, '|')
	l = appendMode(l, e.Mode)
	for _, n := range []uint64{uint64(e.Uid), uint64(e.Gid), uint64(e.Size)} {
		l = append(l, '|')
		l = strconv.AppendUint(l, n, 10)
	}
	for _, t := range []time.Time{a, m, c, cr} {
		l = append(l, '|')
		l = strconv.AppendInt(l, unix(t), 10)
	}
	l = append(l, '\n')
	b.buf = l
	_, err := b.w.Write(l)
	return err
}

func (b *bodyWriter) Flush() error { return b.w.Flush() }

// unix is t in Unix seconds, 0 for the zero time (unknown).
func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// escapeName escapes what would break a body line.
func escapeName(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '|' || c == '\\' {
			return escapeFrom(s, i)
		}
	}
	return s
}

func escapeFrom(s string, i int) string {
	const hex = "0123456789abcdef"
	out := []byte(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || c == '|' || c == '\\' {
			out = append(out, '\\', 'x', hex[c>>4], hex[c&15])
		} else {
			out = append(out, c)
		}
	}
	return string(out)
}

// appendMode appends TSK's mode string: the name's type, "/", the
// inode's type and the permissions as ls shows them ("r/rrw-r--r--").
func appendMode(l []byte, mode uint32) []byte {
	var nt, mt byte = '-', '-'
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		nt, mt = 'r', 'r'
	case syscall.S_IFDIR:
		nt, mt = 'd', 'd'
	case syscall.S_IFLNK:
		nt, mt = 'l', 'l'
	case syscall.S_IFIFO:
		nt, mt = 'p', 'p'
	case syscall.S_IFCHR:
		nt, mt = 'c', 'c'
	case syscall.S_IFBLK:
		nt, mt = 'b', 'b'
	case syscall.S_IFSOCK:
		nt, mt = 'h', 'h'
	}
	l = append(l, nt, '/', mt)
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		c := byte('-')
		if mode&(1<<(8-i)) != 0 {
			c = rwx[i]
		}
		l = append(l, c)
	}
	special := func(bit uint32, at int, set, noexec byte) {
		if mode&bit == 0 {
			return
		}
		if p := len(l) - 9 + at; l[p] == '-' {
			l[p] = noexec
		} else {
			l[p] = set
		}
	}
	special(syscall.S_ISUID, 2, 's', 'S')
	special(syscall.S_ISGID, 5, 's', 'S')
	special(syscall.S_ISVTX, 8, 't', 'T')
	return l
}
