package web

import (
	"archive/tar"
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"

	"github.com/vmarchive/vmarchive/guestfs"
)

// maxArchiveEntries bounds the names of one directory download: the
// entries are listed before the first byte (for Content-Length).
const maxArchiveEntries = 1 << 20

// errorsName is the file an archive carries when parts of the tree could
// not be read (a damaged directory, a cycle): what was left out and why.
const errorsName = "VMARCHIVE-ERRORS.txt"

// member is one path of a directory download.
type member struct {
	path string // relative, slash-separated; directories end in "/"
	ino  uint64
	attr guestfs.Attr
	link string
}

// subFS is a guest filesystem whose walks start at a directory.
type subFS struct {
	guestfs.FS
	root uint64
}

func (s subFS) Root() uint64 { return s.root }

// archive streams guest directory n as a zip, tar or tar.gz, without a
// copy on disk; a tar gets a Content-Length.
func (s *Server) archive(w http.ResponseWriter, r *http.Request, p *Principal, n *node, rel, format string) {
	if format != "zip" && format != "tar" && format != "tar.gz" {
		http.Error(w, fmt.Sprintf("format %s: want zip, tar or tar.gz", quote(format)), http.StatusBadRequest)
		return
	}
	if n.fs == nil {
		http.Error(w, fmt.Sprintf("%s is not a guest directory: download the disk or partition image (.img) instead", quote(rel)), http.StatusBadRequest)
		return
	}
	members, problems, err := collect(r.Context(), n)
	if err != nil {
		http.Error(w, fmt.Sprintf("%s: %v: download a subdirectory or the partition image", quote(rel), err), http.StatusRequestEntityTooLarge)
		return
	}
	name := n.name
	if name == "/" || name == "" {
		name = n.vm
	}
	w.Header().Set("Content-Disposition", attachment(name+"."+format))
	switch format {
	case "zip":
		w.Header().Set("Content-Type", "application/zip")
	case "tar":
		w.Header().Set("Content-Type", "application/x-tar")
		if size, err := tarSize(members, problems); err == nil {
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		}
	default:
		w.Header().Set("Content-Type", "application/gzip")
	}
	if r.Method == http.MethodHead {
		return
	}
	s.logDownload(p, n, rel, format, "")
	if err := writeArchive(w, n.fs, format, members, problems); err != nil {
		// Headers are gone: cut the connection so the client sees a
		// broken download, never a short archive taken for whole.
		s.log.Error("web: download broken", "user", p.Name, "vm", n.vm, "point", n.point, "path", rel, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// collect lists n's tree through guestfs.Walk; problems are what the walk
// left out. Too many entries is an error.
func collect(ctx context.Context, n *node) ([]member, []string, error) {
	var members []member
	var problems []string
	var tooMany error
	fsys := subFS{n.fs, n.gino}
	err := guestfs.Walk(ctx, fsys, guestfs.Limits{MaxEntries: maxArchiveEntries}, func(p string, e guestfs.DirEntry) error {
		if p == "/" {
			return nil
		}
		a, err := n.fs.Stat(e.Ino)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", p, err))
			return nil
		}
		m := member{path: strings.TrimPrefix(p, "/"), ino: e.Ino, attr: a}
		switch a.Mode & syscall.S_IFMT {
		case syscall.S_IFDIR:
			m.path += "/"
		case syscall.S_IFLNK:
			if m.link, err = n.fs.Readlink(e.Ino); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", p, err))
				return nil
			}
		}
		members = append(members, m)
		return nil
	}, func(p string, err error) {
		if errors.Is(err, guestfs.ErrTooMany) {
			tooMany = fmt.Errorf("more than %d entries", maxArchiveEntries)
		}
		problems = append(problems, fmt.Sprintf("%s: %v", p, err))
	})
	if err == nil {
		err = tooMany
	}
	return members, problems, err
}

func writeArchive(w io.Writer, fsys guestfs.FS, format string, members []member, problems []string) error {
	if format == "zip" {
		return writeZip(w, fsys, members, problems)
	}
	if format == "tar.gz" {
		gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		if err := writeTar(gz, fsys, members, problems); err != nil {
			return err
		}
		return gz.Close()
	}
	return writeTar(w, fsys, members, problems)
}

func tarHeader(m member) *tar.Header {
	a := m.attr
	h := &tar.Header{Name: m.path, Mode: int64(a.Mode & 0o7777), Uid: int(a.Uid), Gid: int(a.Gid),
		ModTime: a.Mtime, AccessTime: a.Atime, ChangeTime: a.Ctime, Format: tar.FormatPAX}
	switch a.Mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		h.Typeflag = tar.TypeDir
	case syscall.S_IFLNK:
		h.Typeflag, h.Linkname = tar.TypeSymlink, m.link
	case syscall.S_IFREG:
		h.Typeflag, h.Size = tar.TypeReg, a.Size
	case syscall.S_IFCHR, syscall.S_IFBLK:
		h.Typeflag = tar.TypeChar
		if a.Mode&syscall.S_IFMT == syscall.S_IFBLK {
			h.Typeflag = tar.TypeBlock
		}
		// Linux's encoding of a device number (sys/sysmacros.h).
		h.Devmajor = int64((a.Rdev>>8)&0xfff | (a.Rdev>>32)&^0xfff)
		h.Devminor = int64(a.Rdev&0xff | (a.Rdev>>12)&^0xff)
	default:
		h.Typeflag = tar.TypeFifo // fifos; sockets have no tar type
	}
	return h
}

func problemsText(problems []string) []byte {
	return []byte(strings.Join(problems, "\n") + "\n")
}

// tarSize is the length writeTar will write: each header as tar writes
// it alone, data padded to 512 bytes, and the two closing blocks.
func tarSize(members []member, problems []string) (int64, error) {
	var total int64
	add := func(h *tar.Header) error {
		var c counter
		if err := tar.NewWriter(&c).WriteHeader(h); err != nil {
			return err
		}
		total += c.n + (h.Size+511)/512*512
		return nil
	}
	for _, m := range members {
		if err := add(tarHeader(m)); err != nil {
			return 0, err
		}
	}
	if len(problems) > 0 {
		if err := add(problemsHeader(problems)); err != nil {
			return 0, err
		}
	}
	return total + 1024, nil
}

func problemsHeader(problems []string) *tar.Header {
	return &tar.Header{Name: errorsName, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(problemsText(problems))), Format: tar.FormatPAX}
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func writeTar(w io.Writer, fsys guestfs.FS, members []member, problems []string) error {
	tw := tar.NewWriter(w)
	buf := make([]byte, 1<<20)
	for _, m := range members {
		h := tarHeader(m)
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("%s: %w", m.path, err)
		}
		if h.Typeflag == tar.TypeReg {
			if err := copyFile(tw, fsys, m, buf); err != nil {
				return err
			}
		}
	}
	if len(problems) > 0 {
		if err := tw.WriteHeader(problemsHeader(problems)); err != nil {
			return err
		}
		if _, err := tw.Write(problemsText(problems)); err != nil {
			return err
		}
	}
	return tw.Close()
}

// copyFile writes exactly the size the header announced.
func copyFile(w io.Writer, fsys guestfs.FS, m member, buf []byte) error {
	f, err := fsys.Open(m.ino)
	if err != nil {
		return fmt.Errorf("%s: %w", m.path, err)
	}
	if _, err := io.CopyBuffer(w, io.NewSectionReader(f, 0, m.attr.Size), buf); err != nil {
		return fmt.Errorf("%s: %w", m.path, err)
	}
	return nil
}

// deflaters keeps flate writers between zip members: a new one allocates
// its window and tables, which cost more than compressing a small file.
var deflaters sync.Pool

type pooledWriter struct{ *flate.Writer }

func (p pooledWriter) Close() error {
	err := p.Writer.Close()
	deflaters.Put(p.Writer)
	return err
}

func pooledDeflate(out io.Writer) (io.WriteCloser, error) {
	if fw, ok := deflaters.Get().(*flate.Writer); ok {
		fw.Reset(out)
		return pooledWriter{fw}, nil
	}
	fw, err := flate.NewWriter(out, flate.BestSpeed)
	if err != nil {
		return nil, err
	}
	return pooledWriter{fw}, nil
}

func writeZip(w io.Writer, fsys guestfs.FS, members []member, problems []string) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, pooledDeflate)
	buf := make([]byte, 1<<20)
	for _, m := range members {
		if t := m.attr.Mode & syscall.S_IFMT; t != syscall.S_IFREG && t != syscall.S_IFDIR && t != syscall.S_IFLNK {
			problems = append(problems, fmt.Sprintf("%s: special file (mode %o): zip cannot hold it, tar can", m.path, m.attr.Mode))
			continue
		}
		fh := &zip.FileHeader{Name: m.path, Modified: m.attr.Mtime, Method: zip.Deflate}
		mode := zipMode(m.attr.Mode)
		fh.SetMode(mode)
		if mode.IsDir() || m.link != "" {
			fh.Method = zip.Store
		}
		fw, err := zw.CreateHeader(fh)
		if err != nil {
			return fmt.Errorf("%s: %w", m.path, err)
		}
		switch {
		case m.link != "":
			_, err = io.WriteString(fw, m.link)
		case !mode.IsDir():
			err = copyFile(fw, fsys, m, buf)
		}
		if err != nil {
			return err
		}
	}
	if len(problems) > 0 {
		fw, err := zw.Create(errorsName)
		if err != nil {
			return err
		}
		if _, err := fw.Write(problemsText(problems)); err != nil {
			return err
		}
	}
	return zw.Close()
}
