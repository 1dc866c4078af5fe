package web

import (
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// download serves /download/<path>: a file or image with Range, or a
// guest directory as ?format=zip, tar or tar.gz.
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	s.get(w, r, r.URL.Path)
}

// get serves GET and HEAD of rel, a path of the tree.
func (s *Server) get(w http.ResponseWriter, r *http.Request, rel string) {
	p := PrincipalFrom(r.Context())
	elems, err := splitPath(rel)
	if err != nil {
		http.Error(w, fmt.Sprintf("bad path %s: %v", quote(rel), err), http.StatusBadRequest)
		return
	}
	n, err := s.view.resolve(r.Context(), p, elems)
	if err != nil {
		s.fail(w, rel, err)
		return
	}
	format := r.URL.Query().Get("format")
	switch {
	case n.dir && format != "":
		s.archive(w, r, p, n, rel, format)
	case n.dir && strings.HasPrefix(r.URL.Path, "/dav"):
		s.listing(w, r, n)
	case n.dir:
		http.Error(w, fmt.Sprintf("%s is a directory: add ?format=zip, tar or tar.gz", quote(rel)), http.StatusBadRequest)
	case n.open == nil:
		http.Error(w, fmt.Sprintf("%s is not a regular file (a symlink or special file)", quote(rel)), http.StatusNotFound)
	default:
		s.file(w, r, p, n, rel)
	}
}

// fail answers an error of resolving or opening rel.
func (s *Server) fail(w http.ResponseWriter, rel string, err error) {
	if errors.Is(err, errNotFound) {
		http.Error(w, fmt.Sprintf("not found: %s", quote(rel)), http.StatusNotFound)
		return
	}
	s.log.Error("web: read failed", "path", rel, "err", err)
	http.Error(w, fmt.Sprintf("reading %s: %v", quote(rel), err), http.StatusBadGateway)
}

// maxRanges bounds the ranges of one request: each costs a multipart
// header, so thousands of tiny ones would multiply the reply.
const maxRanges = 16

// file serves one file with Range (http.ServeContent: resume, If-Range,
// 416 for a range past the end).
func (s *Server) file(w http.ResponseWriter, r *http.Request, p *Principal, n *node, rel string) {
	if rng := r.Header.Get("Range"); strings.Count(rng, ",") >= maxRanges {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", n.size))
		http.Error(w, fmt.Sprintf("Range: more than %d ranges", maxRanges), http.StatusRequestedRangeNotSatisfiable)
		return
	}
	ra, err := n.open()
	if err != nil {
		s.fail(w, rel, err)
		return
	}
	if r.Method == http.MethodGet {
		s.logDownload(p, n, rel, "file", r.Header.Get("Range"))
	}
	if !strings.HasPrefix(r.URL.Path, "/dav") {
		w.Header().Set("Content-Disposition", attachment(n.name))
	}
	http.ServeContent(w, r, n.name, n.mtime, newBlockReader(ra, n.size))
}

func (s *Server) logDownload(p *Principal, n *node, rel, what, rng string) {
	args := []any{"user", p.Name, "vm", n.vm, "point", n.point, "path", rel, "what", what}
	if rng != "" {
		args = append(args, "range", clip(rng))
	}
	s.log.Info("web: download", args...)
}

// attachment is a Content-Disposition naming the file for any client.
func attachment(name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, name)
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, ascii, url.PathEscape(name))
}

// listing is a directory's GET under /dav/: a plain HTML index for a
// browser pointed at the WebDAV URL.
func (s *Server) listing(w http.ResponseWriter, r *http.Request, n *node) {
	kids, err := n.list()
	if err != nil {
		s.fail(w, r.URL.Path, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	base := r.URL.Path
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	fmt.Fprintf(w, "<!doctype html><title>%s</title><ul>\n", html.EscapeString(base))
	for _, k := range kids {
		name := k.name
		if k.dir {
			name += "/"
		}
		u := (&url.URL{Path: path.Join(base, k.name)}).EscapedPath()
		if k.dir {
			u += "/"
		}
		fmt.Fprintf(w, "<li><a href=\"%s\">%s</a></li>\n", html.EscapeString(u), html.EscapeString(name))
	}
	io.WriteString(w, "</ul>\n")
}
