package web

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"golang.org/x/net/webdav"
)

// davFS is the read-only webdav.FileSystem of a view.
type davFS struct{ v *view }

var errReadOnly = os.ErrPermission

func (d davFS) Mkdir(ctx context.Context, name string, perm os.FileMode) error { return errReadOnly }
func (d davFS) RemoveAll(ctx context.Context, name string) error               { return errReadOnly }
func (d davFS) Rename(ctx context.Context, oldName, newName string) error      { return errReadOnly }

func (d davFS) Stat(ctx context.Context, name string) (os.FileInfo, error) {
	n, err := d.node(ctx, name)
	if err != nil {
		return nil, err
	}
	return info{n}, nil
}

func (d davFS) OpenFile(ctx context.Context, name string, flag int, perm os.FileMode) (webdav.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND) != 0 {
		return nil, errReadOnly
	}
	n, err := d.node(ctx, name)
	if err != nil {
		return nil, err
	}
	f := &davFile{n: n}
	if n.open != nil {
		r, err := n.open()
		if err != nil {
			return nil, err
		}
		f.r = io.NewSectionReader(r, 0, n.size)
	}
	return f, nil
}

func (d davFS) node(ctx context.Context, name string) (*node, error) {
	p := PrincipalFrom(ctx)
	elems, err := splitPath(name)
	if p == nil || err != nil {
		return nil, errNotFound
	}
	n, err := d.v.resolve(ctx, p, elems)
	if errors.Is(err, errNotFound) {
		return nil, os.ErrNotExist // webdav tests with os.IsNotExist, which does not unwrap
	}
	return n, err
}

// splitPath splits a cleaned slash path into its elements.
func splitPath(name string) ([]string, error) {
	var out []string
	for _, e := range strings.Split(name, "/") {
		switch e {
		case "":
		case ".", "..":
			return nil, errBadPath
		default:
			out = append(out, e)
		}
	}
	return out, nil
}

var errBadPath = errors.New(`path has a "." or ".." element`)

// davFile is an open node.
type davFile struct {
	n    *node
	r    *io.SectionReader // files
	ents []os.FileInfo     // directories: read on first Readdir
	pos  int
}

func (f *davFile) Close() error                { return nil }
func (f *davFile) Write(p []byte) (int, error) { return 0, errReadOnly }
func (f *davFile) Stat() (os.FileInfo, error)  { return info{f.n}, nil }

func (f *davFile) Read(p []byte) (int, error) {
	if f.r == nil {
		return 0, errors.New("is a directory")
	}
	return f.r.Read(p)
}

func (f *davFile) Seek(off int64, whence int) (int64, error) {
	if f.r == nil {
		return 0, errors.New("is a directory")
	}
	return f.r.Seek(off, whence)
}

func (f *davFile) Readdir(count int) ([]os.FileInfo, error) {
	if f.n.list == nil {
		return nil, errors.New("not a directory")
	}
	if f.ents == nil {
		kids, err := f.n.list()
		if err != nil {
			return nil, err
		}
		f.ents = make([]os.FileInfo, len(kids))
		for i, k := range kids {
			f.ents[i] = info{k}
		}
		sort.Slice(f.ents, func(i, j int) bool { return f.ents[i].Name() < f.ents[j].Name() })
	}
	rest := f.ents[f.pos:]
	if count > 0 {
		if len(rest) == 0 {
			return nil, io.EOF
		}
		rest = rest[:min(count, len(rest))]
	}
	f.pos += len(rest)
	return rest, nil
}

// info is a node as an os.FileInfo; its content type comes from the name
// (webdav would otherwise read every file of a PROPFIND to sniff it).
type info struct{ n *node }

func (i info) Name() string       { return i.n.name }
func (i info) Size() int64        { return i.n.size }
func (i info) Mode() os.FileMode  { return i.n.mode }
func (i info) ModTime() time.Time { return i.n.mtime }
func (i info) IsDir() bool        { return i.n.dir }
func (i info) Sys() any           { return nil }

func (i info) ContentType(ctx context.Context) (string, error) {
	if t := mime.TypeByExtension(path.Ext(i.n.name)); t != "" {
		return t, nil
	}
	return "application/octet-stream", nil
}

var _ webdav.ContentTyper = info{}

// davHandler serves the read-only WebDAV tree under prefix. GET and HEAD
// of files go to the downloads (Range, logging); what would change the
// tree gets 403, LOCK and PROPPATCH 405 (a class 1 server: clients then
// mount read-only), PROPFIND with Depth: infinity 403 (RFC 4918 9.1).
func (s *Server) davHandler(prefix string) http.Handler {
	h := &webdav.Handler{Prefix: prefix, FileSystem: davFS{s.view}, LockSystem: webdav.NewMemLS()}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodOptions:
			w.Header().Set("DAV", "1")
			w.Header().Set("Allow", "OPTIONS, GET, HEAD, PROPFIND")
			w.Header().Set("MS-Author-Via", "DAV")
			return
		case http.MethodGet, http.MethodHead:
			s.get(w, r, strings.TrimPrefix(r.URL.Path, prefix))
			return
		case "PROPFIND":
			switch r.Header.Get("Depth") {
			case "0", "1":
			case "":
				r.Header.Set("Depth", "1") // what clients omitting it mean
			default:
				w.Header().Set("Content-Type", "application/xml; charset=utf-8")
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?><D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>`)
				return
			}
			h.ServeHTTP(w, r)
			return
		case "LOCK", "UNLOCK", "PROPPATCH":
			w.Header().Set("Allow", "OPTIONS, GET, HEAD, PROPFIND")
			http.Error(w, "read-only: "+r.Method+" is not supported", http.StatusMethodNotAllowed)
			return
		case http.MethodPut, http.MethodDelete, http.MethodPost, "MKCOL", "MOVE", "COPY":
			http.Error(w, "read-only: the archive cannot be changed", http.StatusForbidden)
			return
		}
		w.Header().Set("Allow", "OPTIONS, GET, HEAD, PROPFIND")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	})
}
