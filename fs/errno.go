package fs

import (
	"errors"
	iofs "io/fs"
	"log"
	"sync"
	"syscall"

	"github.com/vmarchive/vmarchive/catalog"
)

// logOnce reports each distinct error once: a damaged chunk read by many
// files (or many times) is logged with its point, disk and offset once.
type logOnce struct {
	logger *log.Logger
	mu     sync.Mutex
	seen   map[string]bool // guarded by mu
}

func (l *logOnce) log(op string, err error) {
	if l.logger == nil {
		return
	}
	// One damaged chunk fails many reads of many files: key by the chunk.
	msg := err.Error()
	key := msg
	var re *catalog.ReadError
	if errors.As(err, &re) {
		key = re.Error()
	}
	l.mu.Lock()
	if l.seen == nil || len(l.seen) > 10000 {
		l.seen = map[string]bool{}
	}
	dup := l.seen[key]
	l.seen[key] = true
	l.mu.Unlock()
	if !dup {
		l.logger.Printf("%s: %v", op, err)
	}
}

// errno turns an error into the errno the kernel gets; this is the one
// place that happens. Unexpected errors are EIO and are logged once.
func (m *mount) errno(op string, err error) syscall.Errno {
	var en syscall.Errno
	switch {
	case err == nil:
		return 0
	case errors.As(err, &en):
		return en
	case errors.Is(err, iofs.ErrNotExist), errors.Is(err, catalog.ErrNotFound):
		return syscall.ENOENT
	case errors.Is(err, errors.ErrUnsupported):
		m.errs.log(op, err)
		return syscall.EOPNOTSUPP
	}
	m.errs.log(op, err)
	return syscall.EIO
}

// xattrErrno is errno for getxattr, where absence is ENODATA.
func (m *mount) xattrErrno(op string, err error) syscall.Errno {
	if errors.Is(err, iofs.ErrNotExist) {
		return syscall.ENODATA
	}
	return m.errno(op, err)
}
